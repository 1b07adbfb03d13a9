"""The token check's one read, on the raw driver.

Measured on this machine kind (reference/hot-path-measurements.md), an ORM or
async-adapter round trip costs more than the rest of a token check together. So this
read skips SQLAlchemy: a plain sqlite3 call (about 5 microseconds, cheaper than any
thread hop) or a prepared statement on an asyncpg pool. Every check reads the
database, so a revoked session is refused at once by every worker and instance.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from portcullis.core.errors import Unavailable
from portcullis.core.models import Account, AccountStatus, Session
from portcullis.storage.database import open_sqlite
from portcullis.storage.stores import from_epoch

# What a dropped or refused connection raises: the pool replaces the connection.
CONNECTION_LOST = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # pg_terminate_backend, shutdown
    asyncpg.InterfaceError,
    # A connection cut mid-protocol can be left in a state asyncpg cannot continue from.
    asyncpg.exceptions.InternalClientError,
    OSError,
    TimeoutError,
)

_QUERY = """
SELECT s.id, s.account_id, s.created_at, s.last_seen_at, s.expires_at,
       s.client_address, s.user_agent,
       a.email, a.username, a.full_name, a.orcid, a.secret, a.status, a.superuser,
       a.notifications_enabled, a.access_tags, a.deny_tags, a.created_at,
       a.last_activity_at
FROM sessions AS s JOIN accounts AS a ON a.id = s.account_id
WHERE s.token_hash = {placeholder}
"""


def _tags(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, str | bytes):
        raw = orjson.loads(raw)
    return tuple(raw or ())


def _from_row(row: Any) -> tuple[Session, Account]:
    session = Session(
        id=row[0],
        account_id=row[1],
        created_at=from_epoch(row[2]),
        last_seen_at=from_epoch(row[3]),
        expires_at=from_epoch(row[4]),
        client_address=row[5],
        user_agent=row[6],
    )
    account = Account(
        id=row[1],
        email=row[7],
        username=row[8],
        full_name=row[9],
        orcid=row[10],
        secret=row[11],
        status=AccountStatus(row[12]),
        superuser=bool(row[13]),
        notifications_enabled=bool(row[14]),
        access_tags=_tags(row[15]),
        deny_tags=_tags(row[16]),
        created_at=from_epoch(row[17]),
        last_activity_at=from_epoch(row[18]) if row[18] else None,
    )
    return session, account


class SqliteSessionLookup:
    def __init__(self, path: Path):
        self._path = path
        self._connection: sqlite3.Connection | None = None
        self._query = _QUERY.format(placeholder="?")

    async def find(self, token_hash: bytes) -> tuple[Session, Account] | None:
        # Synchronous on purpose: in WAL mode this read never waits for a writer.
        if self._connection is None:
            self._connection = open_sqlite(self._path)
        try:
            row = self._connection.execute(self._query, (token_hash,)).fetchone()
        except sqlite3.Error as error:
            raise Unavailable() from error
        return _from_row(row) if row else None

    async def ping(self) -> None:
        await self.find(b"")

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


async def _nothing_to_reset(connection: asyncpg.Connection) -> None:
    """The pool's reset without its round trip.

    By default asyncpg sends ``RESET ALL; UNLISTEN *; ...`` to the server on every
    release: a second round trip per token check. These connections only ever run the
    one SELECT above, outside any transaction, so there is no session state to undo.
    """


class PostgresSessionLookup:
    def __init__(self, dsn: str, pool_size: int = 10):
        self._dsn = dsn
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()
        self._query = _QUERY.format(placeholder="$1")

    async def find(self, token_hash: bytes) -> tuple[Session, Account] | None:
        # A dropped connection usually means its siblings were dropped too (a restart,
        # pg_terminate_backend): expire them all and retry once on a fresh connection.
        for attempt in range(2):
            try:
                pool = await self._ensure_pool()
                row = await pool.fetchrow(self._query, token_hash)
            except CONNECTION_LOST as error:
                if attempt:
                    raise Unavailable() from error
                if self._pool is not None:
                    await self._pool.expire_connections()
                continue
            return _from_row(row) if row else None
        raise AssertionError("unreachable")

    async def ping(self) -> None:
        """Raises Unavailable unless the database answers."""
        try:
            pool = await self._ensure_pool()
            await pool.fetchval("SELECT 1")
        except CONNECTION_LOST as error:
            raise Unavailable() from error

    async def _ensure_pool(self) -> asyncpg.Pool:
        # Made on first use, not at start-up, so the service starts (and answers 503)
        # while the database is down, and recovers when it returns.
        if self._pool is None:
            async with self._pool_lock:
                if self._pool is None:
                    self._pool = await asyncpg.create_pool(
                        self._dsn,
                        min_size=1,
                        max_size=self._pool_size,
                        timeout=5,
                        reset=_nothing_to_reset,
                    )
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
