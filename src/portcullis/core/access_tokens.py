"""Personal and service access tokens: named, expiring, scoped, revoked everywhere at once.

A token carries a prefix (``pcpat_`` a person's, ``pcsvc_`` a service's) so that secret
scanners can spot a leaked one, and so a check knows which table to read without trying
both. It is returned once and stored only as its keyed hash; like a session token it is
found by that hash, so no secret is ever compared in Python.
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from portcullis.core.audit import AuditTrail
from portcullis.core.errors import InvalidInput, InvalidToken, NotFound
from portcullis.core.memo import Memo
from portcullis.core.models import (
    AccessToken,
    Account,
    AuditKind,
    Client,
    IssuedAccessToken,
    Session,
    TokenKind,
    TokenScope,
)
from portcullis.core.paging import DEFAULT_LIMIT, Page, bounded, newest_page, position_of
from portcullis.core.ports import Clock, SessionHotPath, UnitOfWorkFactory
from portcullis.core.tokens import TOKEN_BYTES, Hasher

PERSONAL_PREFIX = "pcpat_"
SERVICE_PREFIX = "pcsvc_"
PREFIXES = (PERSONAL_PREFIX, SERVICE_PREFIX)
NAME_LENGTH = 100
# Last use is written at most this often per token, as a session's activity is.
TOUCH_INTERVAL = timedelta(seconds=60)


def is_access_token(token: str) -> bool:
    return token.startswith(PREFIXES)


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    max_lifetime: timedelta


def token_name(name: str) -> str:
    """``name`` trimmed. Raises InvalidInput if empty, too long, or holding control characters."""
    name = name.strip()
    if not name or len(name) > NAME_LENGTH:
        raise InvalidInput([f"name: a token needs a name of 1 to {NAME_LENGTH} characters"])
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise InvalidInput(["name: a token's name may not hold control characters"])
    return name


class AccessTokens:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        hot_path: SessionHotPath,
        hasher: Hasher,
        clock: Clock,
        policy: TokenPolicy,
        audit: AuditTrail,
    ):
        self._uow = uow
        self._hot_path = hot_path
        self._hasher = hasher
        self._clock = clock
        self._policy = policy
        self._audit = audit
        self._as_sessions: Memo[str, Session] = Memo()

    @property
    def max_lifetime(self) -> timedelta:
        return self._policy.max_lifetime

    async def create(
        self,
        account: Account,
        name: str,
        scope: TokenScope,
        lifetime: timedelta | None = None,
        client: Client | None = None,
        *,
        actor: Account | None = None,
    ) -> IssuedAccessToken:
        """Make a token for ``account`` lasting ``lifetime`` (at most, and by default, the
        longest allowed). Raises InvalidInput for a bad name or lifetime."""
        lifetime = self._lifetime(lifetime)
        kind = TokenKind.SERVICE if account.service else TokenKind.PERSONAL
        prefix = SERVICE_PREFIX if account.service else PERSONAL_PREFIX
        token = prefix + secrets.token_urlsafe(TOKEN_BYTES)
        now = self._clock.now()
        stored = AccessToken(
            id=secrets.token_hex(12),  # never starts with "-", so a command line takes it
            account_id=account.id,
            kind=kind,
            name=token_name(name),
            scope=scope,
            created_at=now,
            expires_at=now + lifetime,
        )
        detail = f"{stored.id} {stored.scope.value} {stored.name}"
        event = self._audit.event(
            AuditKind.TOKEN_CREATED, client, account=account, actor=actor, detail=detail
        )
        async with self._uow() as uow:
            await uow.tokens.add(stored, self._hasher.token_hash(token))
            await self._audit.write(uow, event)
        return IssuedAccessToken(token=token, access_token=stored)

    def _lifetime(self, lifetime: timedelta | None) -> timedelta:
        longest = self._policy.max_lifetime
        if lifetime is None:
            return longest
        if lifetime <= timedelta(0) or lifetime > longest:
            days = longest // timedelta(days=1)
            raise InvalidInput([f"expiresInDays: a token lasts 1 to {days} days"])
        return lifetime

    async def page(
        self, account_id: int, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[AccessToken]:
        """A page of the account's tokens, newest first, from ``cursor`` (the previous
        page's ``next``) if given. Raises InvalidInput for a cursor this service did not
        give."""
        after = position_of(cursor)
        limit = bounded(limit)
        async with self._uow(read_only=True) as uow:
            found = await uow.tokens.list(account_id, after, limit + 1)
        return newest_page(found, limit)

    async def revoke(
        self,
        account: Account,
        token_id: str,
        client: Client | None = None,
        *,
        actor: Account | None = None,
    ) -> None:
        """Revoke one token of ``account`` at once. Raises NotFound if it has no such token."""
        async with self._uow() as uow:
            if not await uow.tokens.remove(account.id, token_id):
                raise NotFound("No such token.")
            event = self._audit.event(
                AuditKind.TOKEN_REVOKED, client, account=account, actor=actor, detail=token_id
            )
            await self._audit.write(uow, event)

    async def resolve(self, token: str) -> tuple[Session, Account]:
        """The token as a session of its kind and scope, and its active account.

        Raises InvalidToken for an unknown, expired or revoked token, or one whose
        account is no longer active.
        """
        found = await self._hot_path.find_token(self._hasher.token_hash(token))
        if found is None:
            raise InvalidToken()
        stored, account = found
        now = self._clock.now()
        if now >= stored.expires_at or not account.active:
            raise InvalidToken()
        if stored.last_used_at is None:
            first = self._audit.event(AuditKind.TOKEN_FIRST_USED, account=account, detail=stored.id)
            await self._hot_path.touch_token(stored.id, now, first)
        elif now - stored.last_used_at >= TOUCH_INTERVAL:
            await self._hot_path.touch_token(stored.id, now, None)
        # The same Session while the token is unchanged (the hot path hands back the very
        # AccessToken while its row is): making one was a twentieth of a check.
        session = self._as_sessions.get(stored.id, stored)
        if session is None:
            session = self._as_sessions.keep(stored.id, as_session(stored), stored)
        return session, account

    async def purge_expired(self, limit: int) -> int:
        """Delete at most ``limit`` expired tokens; how many went."""
        async with self._uow() as uow:
            return await uow.tokens.purge_expired(self._clock.now(), limit)


def as_session(token: AccessToken) -> Session:
    return Session(
        id=token.id,
        account_id=token.account_id,
        created_at=token.created_at,
        last_seen_at=token.last_used_at or token.created_at,
        expires_at=token.expires_at,
        client_address=None,
        user_agent=None,
        kind=token.kind,
        scope=token.scope,
    )
