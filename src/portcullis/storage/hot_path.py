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
from portcullis.core.models import (
    AccessToken,
    Account,
    AccountStatus,
    AuditEvent,
    Session,
    StorageMode,
)
from portcullis.core.validation import canonical_login
from portcullis.storage.database import open_sqlite
from portcullis.storage.gathered import GatheredLookups
from portcullis.storage.pg_connections import ConnectionSet
from portcullis.storage.stores import (
    dialect_fields_of,
    epoch,
    from_epoch,
    json_list,
    permissions_of,
)
from portcullis.storage.token_store import TOKEN_COLUMNS, token_from_columns

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

_ACCOUNT_COLUMNS = """a.email, a.username, a.full_name, a.orcid, a.secret, a.status, a.superuser,
       a.notifications_enabled, a.permissions, a.deny_tags, a.created_at,
       a.last_activity_at, a.storage_mode, a.email_verified, a.dialect_fields, a.service"""

# These are built from constants only; every value is a bound parameter. Each row ends
# with its token hash: on PostgreSQL the token checks waiting at one moment share one
# query (GatheredLookups), and each check is handed the row of its own token.
_SESSION_QUERY = f"""
SELECT s.account_id, s.id, s.created_at, s.last_seen_at, s.expires_at,
       s.client_address, s.user_agent, s.opened_by, {_ACCOUNT_COLUMNS}, s.token_hash
FROM sessions AS s JOIN accounts AS a ON a.id = s.account_id
WHERE s.token_hash {{match}}
"""  # noqa: S608

_SESSION_QUERY_SQLITE = _SESSION_QUERY.format(match="= ?")

# An access token is checked the same way: one indexed read, its account joined.
_TOKEN_FIELDS = ", ".join(f"t.{name.strip()}" for name in TOKEN_COLUMNS.split(","))
_TOKEN_WIDTH = len(TOKEN_COLUMNS.split(","))
# On PostgreSQL the checks waiting at one moment share one query, as the sessions' do.
_TOKEN_QUERY = f"""
SELECT {_TOKEN_FIELDS}, {_ACCOUNT_COLUMNS}, t.token_hash
FROM access_tokens AS t JOIN accounts AS a ON a.id = t.account_id
WHERE t.token_hash {{match}}
"""  # noqa: S608
_TOKEN_QUERY_SQLITE = _TOKEN_QUERY.format(match="= ?")
_TOKENS_QUERY_PG = _TOKEN_QUERY.format(match="= ANY($1::bytea[])")
_TOKEN_USED = "UPDATE access_tokens SET last_used_at = {0} WHERE id = {1}"  # noqa: S105
_SESSIONS_QUERY_PG = _SESSION_QUERY.format(match="= ANY($1::bytea[])")

# Signing in reads the account the same lean way: on SQLite this read then takes no
# write lock, so concurrent logins in several workers do not queue behind each other.
_ACCOUNT_QUERY = f"""
SELECT a.id, a.password_hash, {_ACCOUNT_COLUMNS}
FROM accounts AS a WHERE a.{{column}} = {{placeholder}}
"""  # noqa: S608


# Signing in writes three rows in one transaction. Through SQLAlchemy's unit of work
# (a begin, three statements and a commit, each a round trip through its async adapter)
# this cost more CPU than the rest of a sign-in outside the hash (cProfile, 400 logins:
# Sessions.open 0.28 of 0.96 s on SQLite, 0.31 of 0.91 s on PostgreSQL).
_SESSION_COLUMNS = """id, token_hash, account_id, created_at, last_seen_at, expires_at,
    client_address, user_agent, opened_by"""
_AUDIT_COLUMNS = "at, kind, account_id, subject, detail, actor_id, client_address, user_agent"
# A first use is recorded once however many checks race to it: only the update that
# found the token unused writes the audit row (SQLite: changes() counts that update).
_FIRST_USE_SQLITE = (
    "UPDATE access_tokens SET last_used_at = ? WHERE id = ? AND last_used_at IS NULL",
    f"INSERT INTO audit_log ({_AUDIT_COLUMNS}) SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE changes() = 1",
)

_START_SQLITE = (
    f"INSERT INTO sessions ({_SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
    "UPDATE accounts SET last_activity_at = ? WHERE id = ?",
    f"INSERT INTO audit_log ({_AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
)

# A token check records activity at most once a minute per session, on the same path.
_TOUCH_SQLITE = (
    "UPDATE sessions SET last_seen_at = ? WHERE id = ?",
    "UPDATE accounts SET last_activity_at = ? WHERE id = ?",
)
_TOUCH_PG = """
WITH seen AS (UPDATE sessions SET last_seen_at = $1 WHERE id = $2)
UPDATE accounts SET last_activity_at = $1 WHERE id = $3
"""

# PostgreSQL takes the three as one statement: one round trip, one implicit transaction.
_START_PG = f"""
WITH new_session AS (
    INSERT INTO sessions ({_SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
), activity AS (
    UPDATE accounts SET last_activity_at = $4 WHERE id = $3
)
INSERT INTO audit_log ({_AUDIT_COLUMNS}) VALUES ($10, $11, $12, $13, $14, $15, $16, $17)
"""  # noqa: S608


_FIRST_USE_PG = f"""
WITH used AS (
    UPDATE access_tokens SET last_used_at = $1 WHERE id = $2 AND last_used_at IS NULL
    RETURNING id
)
INSERT INTO audit_log ({_AUDIT_COLUMNS})
SELECT $3::bigint, $4::text, $5::int, $6::text, $7::text, $8::int, $9::text, $10::text FROM used
"""  # noqa: S608


def _audit_row(event: AuditEvent) -> tuple[Any, ...]:
    """The audit event's row, in ``_AUDIT_COLUMNS`` order."""
    return (
        epoch(event.at),
        event.kind.value,
        event.account_id,
        event.subject,
        event.detail,
        event.actor_id,
        event.client_address,
        event.user_agent,
    )


def _start_values(
    session: Session, token_hash: bytes, event: AuditEvent
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The new session's row and the audit event's row, in their columns' order."""
    return (
        (
            session.id,
            token_hash,
            session.account_id,
            epoch(session.created_at),
            epoch(session.last_seen_at),
            epoch(session.expires_at),
            session.client_address,
            session.user_agent,
            session.opened_by,
        ),
        _audit_row(event),
    )


def _account(account_id: int, columns: Any, password_hash: str | None = None) -> Account:
    """The account whose ``_ACCOUNT_COLUMNS`` are ``columns``, in their order."""
    return Account(
        id=account_id,
        email=columns[0],
        username=columns[1],
        full_name=columns[2],
        orcid=columns[3],
        secret=columns[4],
        status=AccountStatus(columns[5]),
        superuser=bool(columns[6]),
        notifications_enabled=bool(columns[7]),
        permissions=permissions_of(columns[8]),
        deny_tags=tuple(json_list(columns[9])),
        created_at=from_epoch(columns[10]),
        last_activity_at=from_epoch(columns[11]) if columns[11] else None,
        storage_mode=StorageMode(columns[12]),
        password_hash=password_hash,
        email_verified=bool(columns[13]),
        dialect_fields=dialect_fields_of(columns[14]),
        service=bool(columns[15]),
    )


def _session_and_account(row: Any) -> tuple[Session, Account]:
    session = Session(
        id=row[1],
        account_id=row[0],
        created_at=from_epoch(row[2]),
        last_seen_at=from_epoch(row[3]),
        expires_at=from_epoch(row[4]),
        client_address=row[5],
        user_agent=row[6],
        opened_by=row[7],
    )
    return session, _account(row[0], row[8:])


def _token_and_account(row: Any) -> tuple[AccessToken, Account]:
    token = token_from_columns(row[:_TOKEN_WIDTH])
    return token, _account(token.account_id, row[_TOKEN_WIDTH:])


def _login_account(row: Any) -> Account:
    return _account(row[0], row[2:], password_hash=row[1])


def _login_query(login: str, placeholder: str) -> str:
    column = "email" if "@" in login else "username_key"
    return _ACCOUNT_QUERY.format(column=column, placeholder=placeholder)


def _login_value(login: str) -> str:
    """E-mails are stored lower-cased; usernames are found by their folded key alone."""
    return login.lower() if "@" in login else canonical_login(login)


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

    def _fetch_one(self, query: str, value: object) -> Any:
        if self._connection is None:
            self._connection = open_sqlite(self._path)
        try:
            return self._connection.execute(query, (value,)).fetchone()
        except sqlite3.Error as error:
            raise Unavailable() from error

    async def find(self, token_hash: bytes) -> tuple[Session, Account] | None:
        row = self._fetch_one(_SESSION_QUERY_SQLITE, token_hash)
        return _session_and_account(row) if row else None

    async def by_login(self, login: str) -> Account | None:
        row = self._fetch_one(_login_query(login, "?"), _login_value(login))
        return _login_account(row) if row else None

    async def find_token(self, token_hash: bytes) -> tuple[AccessToken, Account] | None:
        row = self._fetch_one(_TOKEN_QUERY_SQLITE, token_hash)
        return _token_and_account(row) if row else None

    async def touch_token(self, token_id: str, at: datetime, event: AuditEvent | None) -> None:
        if event is None:
            await self._write((_TOKEN_USED.format("?", "?"), (epoch(at), token_id)))
            return
        mark_used, audit_once = _FIRST_USE_SQLITE
        await self._write((mark_used, (epoch(at), token_id)), (audit_once, _audit_row(event)))

    async def start(self, session: Session, token_hash: bytes, event: AuditEvent) -> None:
        session_row, audit_row = _start_values(session, token_hash, event)
        insert_session, touch_account, insert_audit = _START_SQLITE
        await self._write(
            (insert_session, session_row),
            (touch_account, (session_row[3], session_row[2])),
            (insert_audit, audit_row),
        )

    async def touch(self, session_id: str, account_id: int, at: datetime) -> None:
        touch_session, touch_account = _TOUCH_SQLITE
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


class PostgresHotPath:
    """Prepared statements (asyncpg caches them per connection) on a free list of connections.

    Token checks that wait at the same moment are answered by one query between them.
    """

    def __init__(self, dsn: str, connections: int = 10):
        # Connected on first use, not at start-up, so the service starts (and answers
        # 503) while the database is down, and recovers when it returns.
        self._connections = ConnectionSet(dsn, connections)
        self._sessions = GatheredLookups(self._sessions_by_token_hash)
        self._tokens = GatheredLookups(self._tokens_by_token_hash)

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

    async def _sessions_by_token_hash(self, token_hashes: list[bytes]) -> dict[bytes, Any]:
        rows = await self._retried(self._connections.fetch, _SESSIONS_QUERY_PG, token_hashes)
        return {row[-1]: row for row in rows}

    async def _tokens_by_token_hash(self, token_hashes: list[bytes]) -> dict[bytes, Any]:
        rows = await self._retried(self._connections.fetch, _TOKENS_QUERY_PG, token_hashes)
        return {row[-1]: row for row in rows}

    async def find(self, token_hash: bytes) -> tuple[Session, Account] | None:
        row = await self._sessions.find(token_hash)
        return _session_and_account(row) if row else None

    async def by_login(self, login: str) -> Account | None:
        row = await self._fetch_one(_login_query(login, "$1"), _login_value(login))
        return _login_account(row) if row else None

    async def find_token(self, token_hash: bytes) -> tuple[AccessToken, Account] | None:
        row = await self._tokens.find(token_hash)
        return _token_and_account(row) if row else None

    async def touch_token(self, token_id: str, at: datetime, event: AuditEvent | None) -> None:
        if event is None:
            await self._fetch_one(_TOKEN_USED.format("$1", "$2"), epoch(at), token_id)
            return
        # Not retried: the first use's audit row must not be written twice.
        try:
            await self._connections.fetchrow(_FIRST_USE_PG, epoch(at), token_id, *_audit_row(event))
        except CONNECTION_LOST as error:
            self._connections.expire_idle()
            raise Unavailable() from error

    async def start(self, session: Session, token_hash: bytes, event: AuditEvent) -> None:
        session_row, audit_row = _start_values(session, token_hash, event)
        for attempt in range(2):
            try:
                await self._connections.fetchrow(_START_PG, *session_row, *audit_row)
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
        await self._fetch_one(_TOUCH_PG, epoch(at), session_id, account_id)

    async def ping(self) -> None:
        """Raises Unavailable unless the database answers."""
        await self._fetch_one("SELECT $1::int", 1)

    async def close(self) -> None:
        await self._sessions.close()
        await self._tokens.close()
        await self._connections.close()
