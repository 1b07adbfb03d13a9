"""Engines for the configured database URL: SQLite (embedded) or PostgreSQL."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

SQLITE_BUSY_TIMEOUT_SECONDS = 30


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    """The operator's URL, and the same URL with the driver we use for each engine."""

    url: URL

    @classmethod
    def parse(cls, raw: str) -> DatabaseUrl:
        url = make_url(raw)
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database URL {raw!r}: use sqlite:/// or postgresql://")
        return cls(url)

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def async_url(self) -> URL:
        return self.url.set(
            drivername="sqlite+aiosqlite" if self.is_sqlite else "postgresql+asyncpg"
        )

    @property
    def sqlite_path(self) -> Path:
        assert self.is_sqlite and self.url.database
        return Path(self.url.database)

    @property
    def asyncpg_dsn(self) -> str:
        return self.url.set(drivername="postgresql").render_as_string(hide_password=False)


# WAL so readers never wait for the writer; foreign keys on; wait, don't fail, on locks.
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}",
)


# The token checks' own page cache. SQLite's default (2 MiB) holds the few levels of
# the indexes a small database has; with seven million sessions a check's three lookups
# (token hash, session row, account) read pages again from the OS for every check: CPU
# time a lookup 15 us on 2,000 accounts, 23-28 us at a portal's scale, 18-22 us with
# this (bench/seeding.py's million accounts, 256 tokens as the bench asks). Pages are
# allocated as they are read, so a small database's reader stays small.
HOT_PATH_CACHE_KIB = 16 * 1024


def open_sqlite(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection in autocommit mode, for the token-check reads."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in (*SQLITE_PRAGMAS, f"PRAGMA cache_size=-{HOT_PATH_CACHE_KIB}"):
        connection.execute(pragma)
    return connection


def prepare_sqlite_file(path: Path) -> None:
    """Make the database file, if missing, readable by the service's user only.

    It holds password hashes; SQLite gives its -wal and -shm files the same mode.
    A folder made for it is private too. An existing file keeps its mode.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)


# The execution option our SQLite "begin" event reads (below).
SQLITE_READ_ONLY = "portcullis_sqlite_read_only"

# A connection's execution options for a transaction that only reads. Each engine heeds
# its own: asyncpg begins READ ONLY (and SQLAlchemy resets it when the connection goes
# back to the pool); SQLite begins deferred and query_only.
READ_ONLY = {"postgresql_readonly": True, SQLITE_READ_ONLY: True}


def create_engine(database: DatabaseUrl) -> AsyncEngine:
    # hide_parameters: a failed statement's error (and so its log line) names the values
    # it was given, and those are password hashes, secrets and token hashes.
    if not database.is_sqlite:
        return create_async_engine(
            database.async_url,
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=10,
            hide_parameters=True,
        )
    prepare_sqlite_file(database.sqlite_path)
    engine = create_async_engine(
        database.async_url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
        hide_parameters=True,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (below) instead of the driver's deferred BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(SQLITE_READ_ONLY):
            # Deferred: in WAL a reader never waits for the write lock. query_only makes
            # a write fail at once rather than take the lock; undone as the transaction
            # ends (below), so no pooled connection keeps it.
            connection.exec_driver_sql("BEGIN")
            connection.exec_driver_sql("PRAGMA query_only=ON")
            return
        # IMMEDIATE takes the write lock up front: a deferred transaction that later
        # writes can fail with "database is locked" at once, ignoring busy_timeout.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine.sync_engine, "commit")
    @event.listens_for(engine.sync_engine, "rollback")
    def _on_end(connection: Any) -> None:
        # An invalidated connection has lost its DBAPI connection, and with it the flag.
        read_only = connection.get_execution_options().get(SQLITE_READ_ONLY)
        if read_only and not connection.invalidated:
            connection.exec_driver_sql("PRAGMA query_only=OFF")

    return engine
