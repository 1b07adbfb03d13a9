"""Alembic is the only way the schema changes: from empty to head, matching the models."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from portcullis.storage import schema
from portcullis.storage.database import DatabaseUrl, create_engine, prepare_sqlite_file
from portcullis.storage.stores import json_list
from portcullis.storage.tables import metadata


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
