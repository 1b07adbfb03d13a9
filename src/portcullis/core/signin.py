"""Signing in: count the attempt, check the credentials, then open a session."""

from __future__ import annotations

from portcullis.core.accounts import Accounts
from portcullis.core.audit import AuditTrail
from portcullis.core.errors import InvalidCredentials, InvalidInput, Problem, TooManyAttempts
from portcullis.core.lockout import Lockout
from portcullis.core.models import AuditKind, Client, IssuedSession
from portcullis.core.ports import Instruments, Unobserved
from portcullis.core.sessions import Sessions
from portcullis.core.validation import MAX_LOGIN_LENGTH

LONG_LOGIN = Problem("The login name must be at most {length} characters", length=MAX_LOGIN_LENGTH)


def refuse_long_login(login: str) -> None:
    """Raises InvalidInput for a login name longer than any e-mail or username can be.

    Every way of signing in asks this first, before anything is looked up, counted or
    hashed: a name no account can have is a 400 whatever the password is.
    """
    if len(login) > MAX_LOGIN_LENGTH:
        raise InvalidInput([LONG_LOGIN])


# The reasons InvalidCredentials gives, as the instruments name them.
OUTCOME_OF_REASON = {"unknown_account": "unknown"}


class SignIn:
    def __init__(
        self,
        accounts: Accounts,
        sessions: Sessions,
        lockout: Lockout,
        audit: AuditTrail,
        instruments: Instruments | None = None,
    ):
        self._accounts = accounts
        self._sessions = sessions
        self._lockout = lockout
        self._audit = audit
        self._instruments = instruments or Unobserved()

    async def __call__(self, login: str, password: str, client: Client) -> IssuedSession:
        """A new session for the account.

        Raises InvalidInput for a login name longer than any e-mail or username can be
        (before anything is counted or hashed); InvalidCredentials, alike for every
        cause; TooManyAttempts while the account (or the unknown name) is held back, even
        for the right password; Unavailable when the lockout's counts cannot be reached
        (we fail closed).
        """
        refuse_long_login(login)
        login = login.strip()
        account = await self._accounts.find_for_login(login)
        account_id = account.id if account else None
        subject = self._lockout.subject(account_id, login)
        # What the audit keeps of the name: as typed when it names an account, else only
        # its keyed hash, for it may be a password typed into the wrong field.
        named = login if account else subject
        try:
            # Counted before any hashing: a held-back guess costs one round trip to the
            # counts and no argon2 run, and concurrent guesses cannot outrun the count.
            hold = await self._lockout.admit(subject)
        except TooManyAttempts:
            self._instruments.signed_in("held_back")
            await self._failed(named, account_id, client, "locked")
            raise
        try:
            account = await self._accounts.check_password(account, password)
        except InvalidCredentials as wrong:
            # Already counted: the admission was the failure's write.
            self._instruments.signed_in(OUTCOME_OF_REASON.get(wrong.reason, wrong.reason))
            await self._failed(named, account_id, client, wrong.reason)
            if hold:
                self._instruments.lockout_started(hold)
                event = self._audit.event(
                    AuditKind.LOCKOUT_STARTED,
                    client,
                    account_id=account_id,
                    subject=named,
                    detail=f"{hold}s",
                )
                await self._audit.record(event)
            raise
        await self._lockout.succeeded(subject)
        self._instruments.signed_in("ok")
        return await self._sessions.open(account, client)

    async def _failed(
        self, named: str, account_id: int | None, client: Client, reason: str
    ) -> None:
        await self._audit.record(
            self._audit.event(
                AuditKind.LOGIN_FAILED, client, account_id=account_id, subject=named, detail=reason
            )
        )
