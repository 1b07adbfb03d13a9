"""Signing in: hold back repeated failures, check the credentials, then open a session."""

from __future__ import annotations

from portcullis.core.accounts import Accounts
from portcullis.core.audit import AuditTrail
from portcullis.core.errors import InvalidCredentials, TooManyAttempts
from portcullis.core.lockout import Lockout
from portcullis.core.models import AuditKind, Client, IssuedSession
from portcullis.core.sessions import Sessions


class SignIn:
    def __init__(self, accounts: Accounts, sessions: Sessions, lockout: Lockout, audit: AuditTrail):
        self._accounts = accounts
        self._sessions = sessions
        self._lockout = lockout
        self._audit = audit

    async def __call__(self, login: str, password: str, client: Client) -> IssuedSession:
        """A new session for the account.

        Raises InvalidCredentials, alike for every cause; TooManyAttempts while the
        account (or the unknown name) is held back, even for the right password;
        Unavailable when the lockout counters cannot be read (we fail closed).
        """
        login = login.strip()
        account = await self._accounts.find_for_login(login)
        subject = Lockout.subject(account.id if account else None, login)
        try:
            # Before any hashing: a held-back guess costs us one read, not an argon2 run.
            await self._lockout.check(subject)
        except TooManyAttempts:
            await self._failed(login, account.id if account else None, client, "locked")
            raise
        try:
            account = await self._accounts.check_password(account, password)
        except InvalidCredentials as wrong:
            hold = await self._lockout.failed(subject)
            await self._failed(login, account.id if account else None, client, wrong.reason)
            if hold is not None:
                await self._audit.record(
                    self._audit.event(
                        AuditKind.LOCKOUT_STARTED,
                        client,
                        account_id=account.id if account else None,
                        subject=login,
                        detail=f"{hold}s",
                    )
                )
            raise
        await self._lockout.succeeded(subject)
        return await self._sessions.open(account, client)

    async def _failed(
        self, login: str, account_id: int | None, client: Client, reason: str
    ) -> None:
        await self._audit.record(
            self._audit.event(
                AuditKind.LOGIN_FAILED, client, account_id=account_id, subject=login, detail=reason
            )
        )
