"""Alembic is the only way the schema changes: from empty to head, matching the models."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from portcullis.storage import schema
from portcullis.storage.database import DatabaseUrl, create_engine
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
