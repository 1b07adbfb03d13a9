"""Signing in: check the credentials, then open a session."""

from __future__ import annotations

from portcullis.core.accounts import Accounts
from portcullis.core.models import Client, IssuedSession
from portcullis.core.sessions import Sessions


class SignIn:
    def __init__(self, accounts: Accounts, sessions: Sessions):
        self._accounts = accounts
        self._sessions = sessions

    async def __call__(self, login: str, password: str, client: Client) -> IssuedSession:
        """A new session for the account. Raises InvalidCredentials, alike for every cause."""
        account = await self._accounts.authenticate(login, password)
        return await self._sessions.open(account, client)
