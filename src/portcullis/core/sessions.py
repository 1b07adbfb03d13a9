"""Sessions: issue, resolve and revoke opaque tokens."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from enum import Enum

from portcullis.core.access_tokens import AccessTokens, is_access_token
from portcullis.core.audit import AuditTrail
from portcullis.core.errors import InvalidToken, NotAllowed, NotFound
from portcullis.core.models import (
    Account,
    AuditKind,
    Client,
    IssuedSession,
    Session,
    TokenKind,
    TokenScope,
)
from portcullis.core.paging import DEFAULT_LIMIT, Page, bounded, newest_page, position_of
from portcullis.core.ports import (
    Clock,
    Instruments,
    SessionHotPath,
    UnitOfWorkFactory,
    Unobserved,
)
from portcullis.core.tokens import Hasher, new_session_id, new_token

# Activity is written at most this often per session: a token check is a read. The write
# lags the last use by up to this much, so a session in steady use could end early where
# the idle limit is short; there activity is written every tenth of the limit instead.
TOUCH_INTERVAL = timedelta(seconds=60)
TOUCH_SHARE_OF_IDLE = 10
MAX_TOKEN_LENGTH = 256


NOT_WITH_THIS_TOKEN = "This token's scope does not allow this; sign in, or use a full token."  # noqa: S105
SESSION_ONLY = "Only a signed-in session may do this, not an access token."
NO_SESSIONS_FOR_SERVICES = "A service account has no sessions, only access tokens."


class Use(Enum):
    """What a caller wants to do with a token, from least to most."""

    READ = "read"  # the profile, forward-auth, introspection: any live token
    ACT = "act"  # what the account may do: a session or a token of full scope
    ACCOUNT = "account"  # the password, the tokens themselves, the pages: a session only


def permits(session: Session, use: Use) -> bool:
    if use is Use.READ or session.kind is TokenKind.SESSION:
        return True
    return use is Use.ACT and session.scope is TokenScope.FULL


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    lifetime: timedelta
    idle: timedelta


class Sessions:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        hot_path: SessionHotPath,
        hasher: Hasher,
        clock: Clock,
        policy: SessionPolicy,
        audit: AuditTrail,
        tokens: AccessTokens | None = None,
        instruments: Instruments | None = None,
    ):
        self._tokens = tokens
        self._uow = uow
        self._hot_path = hot_path
        self._instruments = instruments or Unobserved()
        self._hasher = hasher
        self._clock = clock
        self._policy = policy
        self._audit = audit
        self._touch_interval = min(TOUCH_INTERVAL, policy.idle / TOUCH_SHARE_OF_IDLE)

    async def open(
        self,
        account: Account,
        client: Client,
        *,
        opened_by: Account | None = None,
        lasting_at_most: timedelta | None = None,
    ) -> IssuedSession:
        """Start a new session for an authenticated account.

        With ``opened_by``, a superuser opens it on the account's behalf ("log in as"): the
        session says so, and the audit records an impersonation by that superuser instead
        of a sign-in. ``lasting_at_most`` shortens the configured lifetime. Raises
        NotAllowed for a service account, which has access tokens only.
        """
        if account.service:
            raise NotAllowed(NO_SESSIONS_FOR_SERVICES)
        now = self._clock.now()
        token = new_token()
        lifetime = min(self._policy.lifetime, lasting_at_most or self._policy.lifetime)
        session = Session(
            id=new_session_id(),
            account_id=account.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
            client_address=client.address,
            user_agent=(client.user_agent or "")[:512] or None,
            opened_by=opened_by.email if opened_by else None,
        )
        if opened_by is None:
            event = self._audit.event(AuditKind.LOGIN_SUCCEEDED, client, account=account)
        else:
            event = self._audit.event(
                AuditKind.IMPERSONATION, client, account=account, actor=opened_by, detail="opened"
            )
        await self._hot_path.start(session, self._hasher.token_hash(token), event)
        # The account as it stands now: its last activity is this sign-in.
        return IssuedSession(
            token=token, session=session, account=replace(account, last_activity_at=now)
        )

    async def resolve(self, token: str | None, use: Use = Use.ACT) -> tuple[Session, Account]:
        """The live session and active account behind ``token``, a session's or an access
        token's (as a session of its kind and scope).

        Raises InvalidToken for a missing, unknown, expired or revoked token, or one
        whose account is no longer active; NotAllowed when the token may not be put to
        ``use``.
        """
        if not token or len(token) > MAX_TOKEN_LENGTH:
            self._instruments.token_checked("missing" if not token else "unknown")
            raise InvalidToken()
        if self._tokens is not None and is_access_token(token):
            session, account = await self._tokens.resolve(token)
        else:
            session, account = await self._resolve_session(token)
        if not permits(session, use):
            raise NotAllowed(SESSION_ONLY if use is Use.ACCOUNT else NOT_WITH_THIS_TOKEN)
        return session, account

    async def _resolve_session(self, token: str) -> tuple[Session, Account]:
        found = await self._hot_path.find(self._hasher.token_hash(token))
        if found is None:
            self._instruments.token_checked("unknown")
            raise InvalidToken()
        session, account = found
        now = self._clock.now()
        idle = not session.api_token and now - session.last_seen_at >= self._policy.idle
        if now >= session.expires_at or idle:
            self._instruments.token_checked("expired")
            raise InvalidToken()
        if not account.active:
            self._instruments.token_checked("inactive")
            raise InvalidToken()
        self._instruments.token_checked("ok")
        if now - session.last_seen_at >= self._touch_interval:
            await self._hot_path.touch(session.id, account.id, now)
        return session, account

    async def close(self, token: str | None, client: Client | None = None) -> bool:
        """End the session of ``token`` at once. Idempotent: False if there was none."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return False
        async with self._uow() as uow:
            account_id = await uow.sessions.remove_by_token_hash(self._hasher.token_hash(token))
            if account_id is None:
                return False
            event = self._audit.event(AuditKind.LOGOUT, client, account_id=account_id)
            await self._audit.write(uow, event)
            return True

    async def close_one(
        self,
        account: Account,
        session_id: str,
        client: Client | None = None,
        *,
        actor: Account | None = None,
        kind: AuditKind = AuditKind.SESSION_ENDED,
    ) -> None:
        """End one session of ``account``. Raises NotFound if it has no such session."""
        async with self._uow() as uow:
            if not await uow.sessions.remove(account.id, session_id):
                raise NotFound("No such session.")
            event = self._audit.event(kind, client, account=account, actor=actor)
            await self._audit.write(uow, event)

    async def close_all(
        self, account: Account, client: Client | None = None, *, actor: Account | None = None
    ) -> int:
        """End every session of ``account`` ("log out everywhere"); how many there were."""
        async with self._uow() as uow:
            ended = await uow.sessions.remove_all(account.id)
            event = self._audit.event(
                AuditKind.LOGOUT_EVERYWHERE, client, account=account, actor=actor, detail=str(ended)
            )
            await self._audit.write(uow, event)
            return ended

    async def page(
        self, account_id: int, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[Session]:
        """A page of the account's sessions, newest first, from ``cursor`` (the previous
        page's ``next``) if given. Raises InvalidInput for a cursor this service did not
        give."""
        after = position_of(cursor)
        limit = bounded(limit)
        async with self._uow(read_only=True) as uow:
            found = await uow.sessions.list(account_id, after, limit + 1)
        return newest_page(found, limit)

    async def purge_expired(self, limit: int) -> int:
        """Delete at most ``limit`` expired or idle sessions; how many went."""
        now = self._clock.now()
        async with self._uow() as uow:
            return await uow.sessions.purge_expired(now, now - self._policy.idle, limit)
