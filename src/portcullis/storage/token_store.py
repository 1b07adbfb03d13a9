"""Access tokens on SQLAlchemy Core: made, listed and revoked in the unit of work.

Their check is a read on the hot path (hot_path.py), beside the session check's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from portcullis.core.models import AccessToken, TokenKind, TokenScope
from portcullis.core.paging import Position
from portcullis.storage.batches import delete_some
from portcullis.storage.keyset import newest_first
from portcullis.storage.tables import access_tokens


def _epoch(at: datetime) -> int:
    return int(at.timestamp())


def _moment(seconds: int | None) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if seconds is not None else None


# The order every read of a token gives its columns in (the hot path's too).
TOKEN_COLUMNS = "id, account_id, kind, name, scope, created_at, expires_at, last_used_at"  # noqa: S105


def token_from_columns(columns: Sequence[Any]) -> AccessToken:
    """The token whose ``TOKEN_COLUMNS`` are ``columns``, in their order."""
    return AccessToken(
        id=columns[0],
        account_id=columns[1],
        kind=TokenKind(columns[2]),
        name=columns[3],
        scope=TokenScope(columns[4]),
        created_at=datetime.fromtimestamp(columns[5], UTC),
        expires_at=datetime.fromtimestamp(columns[6], UTC),
        last_used_at=_moment(columns[7]),
    )


class SqlTokenStore:
    def __init__(self, connection: AsyncConnection):
        self._db = connection

    async def add(self, token: AccessToken, token_hash: bytes) -> None:
        await self._db.execute(
            insert(access_tokens).values(
                id=token.id,
                token_hash=token_hash,
                account_id=token.account_id,
                kind=token.kind.value,
                name=token.name,
                scope=token.scope.value,
                created_at=_epoch(token.created_at),
                expires_at=_epoch(token.expires_at),
                last_used_at=None,
            )
        )

    async def list(
        self, account_id: int, after: Position | None = None, limit: int | None = None
    ) -> Sequence[AccessToken]:
        t = access_tokens.c
        columns = [t[name.strip()] for name in TOKEN_COLUMNS.split(",")]
        query = select(*columns).where(t.account_id == account_id)
        rows = await self._db.execute(newest_first(query, t.created_at, t.id, after, limit))
        return [token_from_columns(tuple(row)) for row in rows]

    async def remove(self, account_id: int, token_id: str) -> bool:
        result = await self._db.execute(
            delete(access_tokens).where(
                access_tokens.c.id == token_id, access_tokens.c.account_id == account_id
            )
        )
        return result.rowcount > 0

    async def remove_all(self, account_id: int) -> int:
        result = await self._db.execute(
            delete(access_tokens).where(access_tokens.c.account_id == account_id)
        )
        return result.rowcount

    async def purge_expired(self, now: datetime, limit: int) -> int:
        lapsed = access_tokens.c.expires_at <= _epoch(now)
        return await delete_some(self._db, access_tokens, lapsed, limit)
