"""Alembic is the only way the schema changes: from empty to head, matching the models."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import argon2
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from portcullis.config import Settings
from portcullis.storage import schema
from portcullis.storage.database import DatabaseUrl, create_engine, prepare_sqlite_file
from portcullis.storage.stores import json_list
from portcullis.storage.tables import accounts, metadata
from tests.conftest import FAST_ARGON2, MakeServer


def _differences(database: DatabaseUrl) -> tuple[list[object], set[str]]:
    def compare(connection: Connection) -> tuple[list[object], set[str]]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, metadata), set(inspect(connection).get_table_names())

    async def run() -> tuple[list[object], set[str]]:
        engine = create_engine(database)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(compare)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_migrated_database_matches_the_models(database_url: str) -> None:
    database = DatabaseUrl.parse(database_url)
    differences, tables = _differences(database)
    assert differences == []
    assert set(metadata.tables) <= tables
    assert asyncio.run(schema.current_revision(database)) == schema.head_revision(database)
    assert schema.is_up_to_date(database)


def test_upgrade_is_idempotent(database_url: str) -> None:
    database = DatabaseUrl.parse(database_url)
    schema.upgrade(database)
    assert _differences(database)[0] == []


CLASHING_ROWS = [  # id, e-mail, username, created_at
    (1, "first@example.org", "Alice", 100),
    (2, "second@example.org", "ALICE", 200),  # younger, folds to the name of 1
    (3, "third@example.org", "\uff22ob", 300),  # fullwidth B: folds to "bob"
    (4, "fourth@example.org", None, 400),
]
CLASH_PASSWORDS = {1: "first passphrase here", 2: "second passphrase here"}


class TestUsernameKeys:
    """0003: usernames become unique under canonical_login; clashes are reported, not merged."""

    def _at_0002_with_a_clash(self, database: DatabaseUrl) -> None:
        if database.is_sqlite:
            prepare_sqlite_file(database.sqlite_path)
        command.upgrade(schema.alembic_config(database), "0002")
        hasher = argon2.PasswordHasher(memory_cost=1024, time_cost=1, parallelism=1)
        old_accounts = sa.table("accounts", *(sa.column(name) for name in ACCOUNT_COLUMNS_AT_0002))
        rows = [
            {
                "id": account_id,
                "email": email,
                "username": username,
                "full_name": email,
                "password_hash": hasher.hash(CLASH_PASSWORDS.get(account_id, "x" * 20)),
                "secret": f"secret-{account_id}",
                "status": "active",
                "superuser": False,
                "notifications_enabled": False,
                "access_tags": "[]",
                "deny_tags": "[]",
                "created_at": created_at,
            }
            for account_id, email, username, created_at in CLASHING_ROWS
        ]

        async def insert() -> None:
            engine = create_engine(database)
            try:
                async with engine.begin() as connection:
                    await connection.execute(sa.insert(old_accounts), rows)
            finally:
                await engine.dispose()

        asyncio.run(insert())

    def test_the_younger_of_a_clash_keeps_its_name_but_signs_in_by_email(
        self,
        empty_database_url: str,
        tmp_path: Path,
        make_server: MakeServer,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        database = DatabaseUrl.parse(empty_database_url)
        self._at_0002_with_a_clash(database)
        with caplog.at_level(logging.WARNING, logger="portcullis.migrations"):
            schema.upgrade(database)
        warnings = [r.getMessage() for r in caplog.records if r.name == "portcullis.migrations"]
        assert len(warnings) == 1
        assert warnings[0].startswith(
            "account 2: its username 'ALICE' folds to the name of account 1"
        )
        assert _differences(database)[0] == []

        keys = asyncio.run(_usernames(database))
        assert keys == [
            (1, "Alice", "alice"),
            (2, "ALICE", None),  # not merged, not renamed: only no longer a login
            (3, "\uff22ob", "bob"),
            (4, None, None),
        ]
        settings = Settings(
            _env_file=None,
            data_dir=tmp_path / "data",
            database_url=empty_database_url,
            redis_url="",
            **FAST_ARGON2,
        )
        server = make_server(settings)
        with server.client() as client:

            def who(login: str, password: str) -> object:
                answer = client.post("/auth/login", json={"login": login, "password": password})
                return (
                    answer.json().get("email") if answer.status_code == 200 else answer.status_code
                )

            assert who("ALICE", CLASH_PASSWORDS[1]) == "first@example.org"
            assert who("ALICE", CLASH_PASSWORDS[2]) == 401  # the name is the older account's
            assert who("second@example.org", CLASH_PASSWORDS[2]) == "second@example.org"


ACCOUNT_COLUMNS_AT_0002 = (
    "id",
    "email",
    "username",
    "full_name",
    "password_hash",
    "secret",
    "status",
    "superuser",
    "notifications_enabled",
    "access_tags",
    "deny_tags",
    "created_at",
)


async def _usernames(database: DatabaseUrl) -> list[tuple[int, str | None, str | None]]:
    engine = create_engine(database)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                sa.select(accounts.c.id, accounts.c.username, accounts.c.username_key).order_by(
                    accounts.c.id
                )
            )
            return [tuple(row) for row in rows]  # type: ignore[misc]
    finally:
        await engine.dispose()


def test_0004_makes_every_tag_a_read_permission_and_back(empty_database_url: str) -> None:
    database = DatabaseUrl.parse(empty_database_url)
    config = schema.alembic_config(database)
    if database.is_sqlite:
        prepare_sqlite_file(database.sqlite_path)
    command.upgrade(config, "0003")
    old = sa.table(
        "accounts",
        *(sa.column(name) for name in ACCOUNT_0003),
        sa.column("access_tags", sa.JSON()),
        sa.column("deny_tags", sa.JSON()),
    )
    _execute(
        database,
        sa.insert(old).values(
            email="ann@example.org",
            full_name="Ann",
            secret="69214a2ff80b4f3386b726d3bd0453aa",
            status="active",
            superuser=False,
            notifications_enabled=False,
            access_tags=["S-1", "S-2"],
            deny_tags=[],
            created_at=1,
        ),
    )
    command.upgrade(config, "head")
    [(permissions, mode)] = _execute(
        database,
        sa.select(sa.column("permissions"), sa.column("storage_mode")).select_from(
            sa.table("accounts")
        ),
    )
    assert json_list(permissions) == [
        {"access": "READ", "tag": "S-1"},
        {"access": "READ", "tag": "S-2"},
    ]
    assert mode == "nfs"
    command.downgrade(config, "0003")
    [(tags,)] = _execute(
        database, sa.select(sa.column("access_tags")).select_from(sa.table("accounts"))
    )
    assert json_list(tags) == ["S-1", "S-2"]


ACCOUNT_0003 = (
    "email",
    "full_name",
    "secret",
    "status",
    "superuser",
    "notifications_enabled",
    "created_at",
)


def _execute(database: DatabaseUrl, statement: sa.Executable) -> list[tuple[object, ...]]:
    async def run() -> list[tuple[object, ...]]:
        engine = create_engine(database)
        try:
            async with engine.begin() as connection:
                result = await connection.execute(statement)
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_0005_verifies_every_account_but_the_pending_and_back(empty_database_url: str) -> None:
    database = DatabaseUrl.parse(empty_database_url)
    config = schema.alembic_config(database)
    if database.is_sqlite:
        prepare_sqlite_file(database.sqlite_path)
    command.upgrade(config, "0004")
    old = sa.table(
        "accounts",
        *(sa.column(name) for name in ACCOUNT_0003),
        sa.column("permissions", sa.JSON()),
        sa.column("deny_tags", sa.JSON()),
    )
    for email, status in [("on@example.org", "active"), ("new@example.org", "pending")]:
        row = dict.fromkeys(("superuser", "notifications_enabled"), False)
        _execute(
            database,
            sa.insert(old).values(
                email=email,
                full_name="Ann",
                secret="69214a2ff80b4f3386b726d3bd0453aa",
                status=status,
                permissions=[],
                deny_tags=[],
                created_at=1,
                **row,
            ),
        )
    command.upgrade(config, "head")
    rows = _execute(
        database,
        sa.select(sa.column("email"), sa.column("email_verified"), sa.column("dialect_fields"))
        .select_from(sa.table("accounts"))
        .order_by(sa.column("email")),
    )
    assert [(email, bool(verified), fields) for email, verified, fields in rows] == [
        ("new@example.org", False, None),
        ("on@example.org", True, None),
    ]
    command.downgrade(config, "0004")
    [(count,)] = _execute(database, sa.select(sa.func.count()).select_from(sa.table("accounts")))
    assert count == 2
