"""A portal's worth of rows, written below HTTP for the scale run (``--scale``).

Made through the service's API, a million accounts and seven million sessions would take
days; here the rows go straight into the tables the migrations made: ``executemany`` in
large transactions on SQLite, binary ``COPY`` on PostgreSQL. The indexes and constraints
a bulk load would maintain row by row are dropped first and built once afterwards, as a
restore does (``pg_restore`` builds them after the data).

What is made (``Shape``): accounts with three READ tags each and one shared password
hash; live sessions spread over the accounts, seen within the idle limit; expired ones,
for the purge to find; one crowded account's many sessions; and an audit trail spread
evenly over its days, as an append-only log is, ids rising with time.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

CHUNK = 100_000  # rows a batch: a few tens of MB of tuples in memory at a time
DAY = 24 * 3600
SESSION_LIFETIME = 7 * DAY  # the service's defaults
SESSION_IDLE = DAY
AUDIT_KINDS = ("login_succeeded", "login_failed", "logout", "password_changed")

ADMIN_ID = 1  # a superuser, for the user list and the audit query
CROWDED_ID = 2  # the account with many sessions


@dataclass(frozen=True)
class Shape:
    accounts: int = 1_000_000
    live_sessions: int = 5_000_000
    expired_sessions: int = 2_000_000
    crowded_sessions: int = 1_000
    audit_rows: int = 10_000_000
    audit_days: int = 399  # inside the 400-day retention: the purge measured is the sessions'


def email_of(account_id: int) -> str:
    return f"scale-{account_id:07d}@example.org"


ACCOUNT_COLUMNS = (
    "id",
    "email",
    "username",
    "username_key",
    "full_name",
    "orcid",
    "password_hash",
    "secret",
    "status",
    "superuser",
    "notifications_enabled",
    "permissions",
    "deny_tags",
    "created_at",
    "last_activity_at",
    "storage_mode",
    "email_verified",
    "dialect_fields",
    "service",
    "folder_id",
    "imported_from",
)
SESSION_COLUMNS = (
    "id",
    "token_hash",
    "account_id",
    "created_at",
    "last_seen_at",
    "expires_at",
    "client_address",
    "user_agent",
    "opened_by",
    "api_token",
)
AUDIT_COLUMNS = (
    "id",
    "at",
    "kind",
    "account_id",
    "subject",
    "detail",
    "actor_id",
    "client_address",
    "user_agent",
)


def account_rows(shape: Shape, password_hash: str, now: int) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(1)
    for account_id in range(1, shape.accounts + 1):
        tags = [{"access": "READ", "tag": f"S-SCL{rng.randrange(100_000):05d}"} for _ in range(3)]
        yield (
            account_id,
            email_of(account_id),
            None,
            None,
            f"Scale User {account_id}",
            None,
            password_hash,
            str(uuid.UUID(int=rng.getrandbits(128), version=4)),  # as new_account_secret
            "active",
            account_id == ADMIN_ID,
            False,
            json.dumps(tags),
            "[]",
            now - rng.randrange(3 * 365 * DAY),
            None,
            "nfs",
            True,
            None,
            False,
            None,
            None,
        )


def session_rows(shape: Shape, now: int) -> Iterator[tuple[Any, ...]]:
    """Live sessions, then the crowded account's, then expired ones. The tokens are
    random bytes nobody holds: the bench signs in for the tokens it uses."""
    rng = random.Random(2)

    def one(account_id: int, created: int, seen: int) -> tuple[Any, ...]:
        return (
            os.urandom(12).hex(),
            os.urandom(32),
            account_id,
            created,
            seen,
            created + SESSION_LIFETIME,
            f"192.0.2.{rng.randrange(1, 255)}",
            "portcullis-bench/1",
            None,
            False,
        )

    for _ in range(shape.live_sessions):
        created = now - rng.randrange(SESSION_LIFETIME - DAY)
        yield one(
            rng.randrange(3, shape.accounts + 1), created, now - rng.randrange(SESSION_IDLE // 2)
        )
    for _ in range(shape.crowded_sessions):
        created = now - rng.randrange(SESSION_LIFETIME - DAY)
        yield one(CROWDED_ID, created, now - rng.randrange(SESSION_IDLE // 2))
    for _ in range(shape.expired_sessions):
        created = now - SESSION_LIFETIME - DAY - rng.randrange(60 * DAY)
        yield one(rng.randrange(3, shape.accounts + 1), created, created + rng.randrange(DAY))


def audit_rows(shape: Shape, now: int) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(3)
    start = now - shape.audit_days * DAY
    step = shape.audit_days * DAY / max(1, shape.audit_rows)
    for n in range(shape.audit_rows):
        account_id = rng.randrange(1, shape.accounts + 1)
        kind = AUDIT_KINDS[rng.randrange(len(AUDIT_KINDS))]
        yield (
            n + 1,
            int(start + n * step),
            kind,
            account_id,
            email_of(account_id),
            "bad_password" if kind == "login_failed" else None,
            None,
            f"192.0.2.{rng.randrange(1, 255)}",
            "portcullis-bench/1",
        )


def chunks(rows: Iterator[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def tables_of(
    shape: Shape, password_hash: str, now: int
) -> list[tuple[str, Sequence[str], Iterator[tuple[Any, ...]]]]:
    return [
        ("accounts", ACCOUNT_COLUMNS, account_rows(shape, password_hash, now)),
        ("sessions", SESSION_COLUMNS, session_rows(shape, now)),
        ("audit_log", AUDIT_COLUMNS, audit_rows(shape, now)),
    ]


@dataclass(frozen=True)
class Seeded:
    rows: dict[str, int]
    seconds: dict[str, float]  # loading each table, then "indexes": building them all

    def describe(self) -> str:
        loads = ", ".join(
            f"{table} {self.rows[table]:,} rows in {self.seconds[table]:.0f} s"
            for table in self.rows
        )
        return f"{loads}; indexes and constraints built in {self.seconds['indexes']:.0f} s"


# --- SQLite ------------------------------------------------------------------------


def seed_sqlite(path: Path, shape: Shape, password_hash: str, now: int) -> Seeded:
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        # Only while loading, with no server running: a crash here loses a bench database.
        for pragma in ("synchronous=OFF", "cache_size=-1000000", "temp_store=MEMORY"):
            connection.execute(f"PRAGMA {pragma}")
        indexes = connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            " AND tbl_name IN ('sessions', 'audit_log')"
        ).fetchall()
        for name, _ in indexes:
            connection.execute(f'DROP INDEX "{name}"')
        rows: dict[str, int] = {}
        seconds: dict[str, float] = {}
        for table, columns, generated in tables_of(shape, password_hash, now):
            began = time.monotonic()
            insert = (
                f"INSERT INTO {table} ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' for _ in columns)})"
            )
            count = 0
            for batch in chunks(generated):
                connection.execute("BEGIN")
                connection.executemany(insert, batch)
                connection.execute("COMMIT")
                count += len(batch)
            rows[table], seconds[table] = count, time.monotonic() - began
        began = time.monotonic()
        for _, sql in indexes:
            connection.execute(sql)
        connection.execute("ANALYZE")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        seconds["indexes"] = time.monotonic() - began
        return Seeded(rows, seconds)
    finally:
        connection.close()


def sqlite_sizes(path: Path) -> dict[str, int]:
    """Bytes each table takes with its indexes (SQLite's dbstat)."""
    connection = sqlite3.connect(path)
    try:
        owners = dict(
            connection.execute(
                "SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')"
            )
        )
        sizes: dict[str, int] = {}
        for name, size in connection.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
            table = owners.get(name, name)
            sizes[table] = sizes.get(table, 0) + int(size)
        return sizes
    finally:
        connection.close()


# --- PostgreSQL --------------------------------------------------------------------


async def _seed_postgres(dsn: str, shape: Shape, password_hash: str, now: int) -> Seeded:
    connection = await asyncpg.connect(dsn)
    try:
        # The constraints of the tables loaded, foreign keys first (they lean on the
        # others), and their other indexes: dropped, then made again after the load.
        constraints = await connection.fetch(
            "SELECT conrelid::regclass::text AS tbl, conname, pg_get_constraintdef(oid) AS def,"
            " contype FROM pg_constraint WHERE conrelid::regclass::text = ANY($1)"
            " AND contype IN ('f', 'p', 'u') ORDER BY contype = 'f' DESC",
            ["sessions", "audit_log"],
        )
        indexes = await connection.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY($1)"
            " AND indexname NOT IN (SELECT conname FROM pg_constraint)",
            ["sessions", "audit_log"],
        )
        for index in indexes:
            await connection.execute(f'DROP INDEX "{index["indexname"]}"')
        for constraint in constraints:
            await connection.execute(
                f'ALTER TABLE {constraint["tbl"]} DROP CONSTRAINT "{constraint["conname"]}"'
            )
        rows: dict[str, int] = {}
        seconds: dict[str, float] = {}
        for table, columns, generated in tables_of(shape, password_hash, now):
            began = time.monotonic()
            count = 0
            for batch in chunks(generated):
                await connection.copy_records_to_table(table, records=batch, columns=list(columns))
                count += len(batch)
            rows[table], seconds[table] = count, time.monotonic() - began
        began = time.monotonic()
        for constraint in reversed(constraints):  # keys before the foreign keys that need them
            await connection.execute(
                f'ALTER TABLE {constraint["tbl"]} ADD CONSTRAINT "{constraint["conname"]}" '
                f"{constraint['def']}"
            )
        for index in indexes:
            await connection.execute(index["indexdef"])
        for table in ("accounts", "audit_log"):  # the ids were given, not drawn
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"
            )
        seconds["indexes"] = time.monotonic() - began
        return Seeded(rows, seconds)
    finally:
        await connection.close()


def seed_postgres(dsn: str, shape: Shape, password_hash: str, now: int) -> Seeded:
    return asyncio.run(_seed_postgres(dsn, shape, password_hash, now))


async def _postgres_sizes(dsn: str) -> dict[str, int]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT relname, pg_total_relation_size(oid) AS size FROM pg_class"
            " WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
        )
        return {row["relname"]: int(row["size"]) for row in rows}
    finally:
        await connection.close()


def postgres_sizes(dsn: str) -> dict[str, int]:
    """Bytes each table takes with its indexes and TOAST."""
    return asyncio.run(_postgres_sizes(dsn))
