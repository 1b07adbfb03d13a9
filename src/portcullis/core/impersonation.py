"""Logging in as a user ("log in as"): a superuser's own session token as the password.

BioStudies' submission tool lets a superuser act as a user by sending the user's e-mail
with the superuser's session token in place of the password. The real service takes any
superuser token as any user's password; here it is off unless the operator turns it on,
the session it opens says who opened it and ends within an hour, and it never reaches a
superuser's account, nor one that could not sign in itself.

The decision is made here, before signing in: an attempt that is not an impersonation
goes on to SignIn unchanged, and one that is never counts as a failed login of the user.
"""

from __future__ import annotations

from datetime import timedelta

from portcullis.core.accounts import Accounts
from portcullis.core.audit import AuditTrail
from portcullis.core.errors import InvalidCredentials, InvalidToken, NotAllowed
from portcullis.core.models import Account, AuditKind, Client, IssuedSession
from portcullis.core.sessions import Sessions, Use
from portcullis.core.signin import refuse_long_login

MAX_LIFETIME = timedelta(hours=1)


class Impersonation:
    def __init__(
        self,
        sessions: Sessions,
        accounts: Accounts,
        audit: AuditTrail,
        *,
        enabled: bool,
        max_lifetime: timedelta = MAX_LIFETIME,
    ):
        self._sessions = sessions
        self._accounts = accounts
        self._audit = audit
        self._enabled = enabled
        self._max_lifetime = max_lifetime

    async def attempt(self, login: str, password: str, client: Client) -> IssuedSession | None:
        """A session of the account ``login`` names, opened on behalf of the superuser
        whose live session token ``password`` is.

        None when impersonation is off or ``password`` is no superuser's token: the caller
        then signs in as usual. Raises InvalidInput for a login name over
        MAX_LOGIN_LENGTH, first, as signing in does; InvalidCredentials (recorded as a
        refused impersonation, not as a failed login) when the account is unknown, a
        superuser, or not active.
        """
        refuse_long_login(login)
        superuser = await self._superuser_of(password)
        if superuser is None:
            return None
        account = await self._accounts.find_for_login(login.strip())
        refusal = _refusal(account)
        if refusal is not None:
            event = self._audit.event(
                AuditKind.IMPERSONATION,
                client,
                account_id=account.id if account else None,
                # A name that matches no account is not kept: it may be anything typed.
                subject=account.email if account else None,
                actor=superuser,
                detail=f"refused_{refusal}",
            )
            await self._audit.record(event)
            raise InvalidCredentials(refusal)
        assert account is not None
        return await self._sessions.open(
            account, client, opened_by=superuser, lasting_at_most=self._max_lifetime
        )

    async def _superuser_of(self, token: str) -> Account | None:
        if not self._enabled:
            return None
        try:
            # Only a superuser's own session, never an access token, opens another's.
            _, caller = await self._sessions.resolve(token, Use.ACCOUNT)
        except (InvalidToken, NotAllowed):
            return None
        return caller if caller.superuser else None


def _refusal(account: Account | None) -> str | None:
    if account is None:
        return "unknown_account"
    if account.superuser:
        return "superuser"
    if account.service:
        return "service"  # it has no sessions, only access tokens
    if not account.active:
        return "inactive"
    return None
