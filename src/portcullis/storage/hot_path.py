"""The token check's one read and signing in's one write, on the raw driver.

Measured on this machine kind (reference/hot-path-measurements.md), an ORM or
async-adapter round trip costs more than the rest of a token check together. So these
skip SQLAlchemy: plain sqlite3 calls or prepared statements on asyncpg connections.
Every check reads the database, so a revoked session is refused at once by every worker
and instance.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

from portcullis.core.errors import Unavailable
from portcullis.core.memo import Memo
from portcullis.core.models import (
    AccessToken,
    Account,
    AuditEvent,
    Session,
)
from portcullis.storage.database import open_sqlite
from portcullis.storage.gathered import GatheredLookups
from portcullis.storage.hot_path_sql import (
    CURRENT_SNAPSHOT_PG,
    FIRST_USE_PG,
    FIRST_USE_SQLITE,
    SESSION_QUERY_SQLITE,
    SESSION_VERSIONS_PG,
    SESSIONS_QUERY_PG,
    START_PG,
    START_SQLITE,
    TOKEN_QUERY_SQLITE,
    TOKEN_USED,
    TOKEN_VERSIONS_PG,
    TOKENS_QUERY_PG,
    TOUCH_PG,
    TOUCH_SQLITE,
    RowMemo,
    audit_row,
    login_account,
    login_query,
    login_value,
    session_and_account,
    start_values,
    token_and_account,
)
from portcullis.storage.pg_connections import ConnectionSet
from portcullis.storage.stores import epoch

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


class RowsSinceLastCommit:
    """The token checks' rows, read again only once the database has changed.

    ``PRAGMA data_version`` on a connection changes whenever any other connection, in
    this process or another, commits to the database; the hot path's reading
    connection writes nothing. So while it stays the same, the row read before is the
    row on disk now: a revocation, a disabled account or any edit by any worker commits,
    and every row is then read anew. Asking costs 1.5 µs, against 6.9 for the session's
    lookup (100,000 of each on the bench's database; docs/performance.md). Tokens that
    match no row are not kept, so a stream of made-up tokens cannot push out real ones.
    """

    def __init__(self) -> None:
        self._version: int | None = None
        self._rows: Memo[tuple[str, bytes], Any] = Memo()

    def row(self, connection: sqlite3.Connection, query: str, token_hash: bytes) -> Any:
        version = connection.execute("PRAGMA data_version").fetchone()[0]
        if version != self._version:
            self._version, self._rows = version, Memo()
        key = (query, token_hash)
        row = self._rows.get(key)
        if row is None:
            row = connection.execute(query, (token_hash,)).fetchone()
            if row is not None:
                self._rows.keep(key, row)
        return row


class SqliteHotPath:
    """Plain sqlite3: reads on the event loop, the sign-in's write on a thread of its own.

    Reads are synchronous on purpose: in WAL mode a read never waits for a writer, and a
    point lookup (microseconds) is cheaper than any hop to a thread. A write can wait
    for another process's write lock, so it takes one hop to a writer thread, which runs
    the whole transaction there.
    """

    def __init__(self, path: Path):
        self._path = path
        self._connection: sqlite3.Connection | None = None
        self._writer: sqlite3.Connection | None = None
        self._writer_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-write")
        self._rows = RowsSinceLastCommit()
        self._session_of = RowMemo(session_and_account)
        self._token_of = RowMemo(token_and_account)

    def _reader(self) -> sqlite3.Connection:
        if self._connection is None:
            self._connection = open_sqlite(self._path)
        return self._connection

    def _fetch_one(self, query: str, value: object) -> Any:
        try:
            return self._reader().execute(query, (value,)).fetchone()
        except sqlite3.Error as error:
            raise Unavailable() from error

    def _token_row(self, query: str, token_hash: bytes) -> Any:
        try:
            return self._rows.row(self._reader(), query, token_hash)
        except sqlite3.Error as error:
            raise Unavailable() from error

    async def find(self, token_hash: bytes) -> tuple[Session, Account] | None:
        row = self._token_row(SESSION_QUERY_SQLITE, token_hash)
        return self._session_of(row) if row else None

    async def by_login(self, login: str) -> Account | None:
        row = self._fetch_one(login_query(login, "?"), login_value(login))
        return login_account(row) if row else None

    async def find_token(self, token_hash: bytes) -> tuple[AccessToken, Account] | None:
        row = self._token_row(TOKEN_QUERY_SQLITE, token_hash)
        return self._token_of(row) if row else None

    async def touch_token(self, token_id: str, at: datetime, event: AuditEvent | None) -> None:
        if event is None:
            await self._write((TOKEN_USED.format("?", "?"), (epoch(at), token_id)))
            return
        mark_used, audit_once = FIRST_USE_SQLITE
        await self._write((mark_used, (epoch(at), token_id)), (audit_once, audit_row(event)))

    async def start(self, session: Session, token_hash: bytes, event: AuditEvent) -> None:
        session_row, audit_row = start_values(session, token_hash, event)
        insert_session, touch_account, insert_audit = START_SQLITE
        await self._write(
            (insert_session, session_row),
            (touch_account, (session_row[3], session_row[2])),
            (insert_audit, audit_row),
        )

    async def touch(self, session_id: str, account_id: int, at: datetime) -> None:
        touch_session, touch_account = TOUCH_SQLITE
        seconds = epoch(at)
        await self._write(
            (touch_session, (seconds, session_id)), (touch_account, (seconds, account_id))
        )

    async def _write(self, *statements: tuple[str, tuple[Any, ...]]) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._writer_thread, self._transaction, statements)

    def _transaction(self, statements: tuple[tuple[str, tuple[Any, ...]], ...]) -> None:
        """On the writer thread: one transaction, start to end, without a hop between."""
        try:
            if self._writer is None:
                self._writer = open_sqlite(self._path)
            self._writer.execute("BEGIN IMMEDIATE")  # waits up to busy_timeout for the lock
            try:
                for statement, values in statements:
                    self._writer.execute(statement, values)
                self._writer.execute("COMMIT")
            except BaseException:
                # Never leave the transaction open: every later write would fail on it.
                if self._writer.in_transaction:
                    self._writer.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as error:  # locked past the timeout, disk, I/O
            raise Unavailable() from error

    async def ping(self) -> None:
        self._fetch_one("SELECT ?", 1)

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        await asyncio.get_running_loop().run_in_executor(self._writer_thread, self._close_writer)
        self._writer_thread.shutdown()

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


Fetch = Callable[..., Awaitable[list[Any]]]

# Every statement of the hot path finds its rows by a unique key: a token's hash, an
# account's id, e-mail or login. Where the tables are small (a portal's first thousands
# of accounts, the bench's), PostgreSQL's estimates prefer to read a whole table and hash
# the other: every check then scanned the sessions and hashed every account, where
# probing the two indexes cost a quarter of it (0.23 against 0.06 ms for 8 tokens, on a
# database of the bench's size). Plans for large tables are the same either way.
INDEXED_ONLY = {"enable_seqscan": "off"}


class RowsOfCurrentVersion:
    """PostgreSQL's token-check rows, read whole only when a row's version has changed,
    and not looked at at all while nothing has committed.

    A snapshot (``pg_current_snapshot()``) says which transactions had committed when
    it was taken: none from the first id not yet completed (xmax) on, and none of those
    below it still running (xip). Any commit anywhere in the cluster raises the one or
    shortens the other, so two equal snapshots mean that nothing committed between them.
    Each row kept is kept with the snapshot of the statement that last found it current;
    a batch of checks first asks for the snapshot now, a query that reads no table, and
    takes the rows kept at that very snapshot as they are: 45 µs of the server's CPU
    against 155 for the versions of 8 tokens (docs/performance.md).

    Otherwise each check asks for the xmin of its token's row and of its account's: the
    id of the transaction that wrote that version of the row, new at every update. While
    both are those of the rows kept, the kept rows are what is on disk now; otherwise (a
    new token, any edit, a touch) the whole rows are read and kept. A revoked token or a
    removed account has no row: refused at once. The narrow read saves PostgreSQL and
    the worker the thirty columns' encoding and decoding.

    The snapshot is asked first only while the last two batches began at the same one:
    where commits come between nearly every batch (a busy cluster), it would be a query
    more for nothing, and the batch goes straight to the versions, which say their
    snapshot too.
    """

    def __init__(self, versions_query: str, rows_query: str):
        self._versions_query = versions_query  # snapshot, token hash, the two xmins
        self._rows_query = rows_query  # the rows, snapshot, their two xmins, token hash
        self._rows: Memo[bytes, Any] = Memo()  # by the row's and its account's xmin
        self._current: Memo[bytes, Any] = Memo()  # by the snapshot it was last current at
        self._seen: str | None = None  # the last batch's first snapshot
        self._quiet = False  # that was the same as the batch's before

    async def by_token_hash(self, fetch: Fetch, token_hashes: list[bytes]) -> dict[bytes, Any]:
        found: dict[bytes, Any] = {}
        unconfirmed = token_hashes
        began_at: str | None = None  # the snapshot of this batch's first statement
        if self._quiet:
            [(began_at,)] = await fetch(CURRENT_SNAPSHOT_PG)
            unconfirmed = []
            for token_hash in token_hashes:
                row = self._current.get(token_hash, began_at)
                if row is None:
                    unconfirmed.append(token_hash)
                else:
                    found[token_hash] = row
        kept: list[bytes] = []
        changed: list[bytes] = []
        for token_hash in unconfirmed:
            (kept if token_hash in self._rows else changed).append(token_hash)
        if kept:
            for snapshot, token_hash, row_version, account_version in await fetch(
                self._versions_query, kept
            ):
                began_at = began_at or snapshot
                row = self._rows.get(token_hash, row_version, account_version)
                if row is None:
                    changed.append(token_hash)
                else:
                    found[token_hash] = self._current.keep(token_hash, row, snapshot)
        if changed:
            for row in await fetch(self._rows_query, changed):
                token_hash, snapshot = row[-1], row[-4]
                began_at = began_at or snapshot
                self._rows.keep(token_hash, row, row[-3], row[-2])
                found[token_hash] = self._current.keep(token_hash, row, snapshot)
        if began_at is not None:
            # Between batches, not within one: its statements follow each other closely.
            self._quiet, self._seen = began_at == self._seen, began_at
        return found


class PostgresHotPath:
    """Prepared statements (asyncpg caches them per connection) on a free list of connections.

    Token checks that wait at the same moment are answered by one query between them.
    """

    def __init__(self, dsn: str, connections: int = 10):
        # Connected on first use, not at start-up, so the service starts (and answers
        # 503) while the database is down, and recovers when it returns.
        self._connections = ConnectionSet(dsn, connections, server_settings=INDEXED_ONLY)
        self._sessions = GatheredLookups(self._sessions_by_token_hash)
        self._tokens = GatheredLookups(self._tokens_by_token_hash)
        self._session_rows = RowsOfCurrentVersion(SESSION_VERSIONS_PG, SESSIONS_QUERY_PG)
        self._token_rows = RowsOfCurrentVersion(TOKEN_VERSIONS_PG, TOKENS_QUERY_PG)
        self._session_of = RowMemo(session_and_account)
        self._token_of = RowMemo(token_and_account)

    async def _retried(
        self, fetch: Callable[..., Awaitable[Any]], query: str, *values: object
    ) -> Any:
        # A dropped connection usually means its siblings were dropped too (a restart,
        # pg_terminate_backend): expire the idle ones and retry once on a fresh one.
        # Only for statements that can run twice: reads, and the activity write.
        for attempt in range(2):
            try:
                return await fetch(query, *values)
            except CONNECTION_LOST as error:
                if attempt:
                    raise Unavailable() from error
                self._connections.expire_idle()
        raise AssertionError("unreachable")

    async def _fetch_one(self, query: str, *values: object) -> Any:
        return await self._retried(self._connections.fetchrow, query, *values)

    async def _fetch(self, query: str, *values: object) -> list[Any]:
        rows: list[Any] = await self._retried(self._connections.fetch, query, *values)
        return rows

    async def _sessions_by_token_hash(self, token_hashes: list[bytes]) -> dict[bytes, Any]:
        return await self._session_rows.by_token_hash(self._fetch, token_hashes)

    async def _tokens_by_token_hash(self, token_hashes: list[bytes]) -> dict[bytes, Any]:
        return await self._token_rows.by_token_hash(self._fetch, token_hashes)

    async def find(self, token_hash: bytes) -> tuple[Session, Account] | None:
        row = await self._sessions.find(token_hash)
        return self._session_of(row) if row else None

    async def by_login(self, login: str) -> Account | None:
        row = await self._fetch_one(login_query(login, "$1"), login_value(login))
        return login_account(row) if row else None

    async def find_token(self, token_hash: bytes) -> tuple[AccessToken, Account] | None:
        row = await self._tokens.find(token_hash)
        return self._token_of(row) if row else None

    async def touch_token(self, token_id: str, at: datetime, event: AuditEvent | None) -> None:
        if event is None:
            await self._fetch_one(TOKEN_USED.format("$1", "$2"), epoch(at), token_id)
            return
        # Not retried: the first use's audit row must not be written twice.
        try:
            await self._connections.fetchrow(FIRST_USE_PG, epoch(at), token_id, *audit_row(event))
        except CONNECTION_LOST as error:
            self._connections.expire_idle()
            raise Unavailable() from error

    async def start(self, session: Session, token_hash: bytes, event: AuditEvent) -> None:
        session_row, audit_row = start_values(session, token_hash, event)
        for attempt in range(2):
            try:
                await self._connections.fetchrow(START_PG, *session_row, *audit_row)
                return
            except asyncpg.UniqueViolationError:
                if attempt:
                    # The first attempt committed before its connection was lost: no
                    # other statement can hold this session's random id.
                    return
                raise
            except CONNECTION_LOST as error:
                if attempt:
                    raise Unavailable() from error
                self._connections.expire_idle()

    async def touch(self, session_id: str, account_id: int, at: datetime) -> None:
        await self._fetch_one(TOUCH_PG, epoch(at), session_id, account_id)

    async def ping(self) -> None:
        """Raises Unavailable unless the database answers."""
        await self._fetch_one("SELECT $1::int", 1)

    async def close(self) -> None:
        await self._sessions.close()
        await self._tokens.close()
        await self._connections.close()
