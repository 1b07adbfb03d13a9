"""Alembic environment: runs migrations on the async engine the service itself uses."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from portcullis.storage.database import DatabaseUrl, create_engine
from portcullis.storage.tables import metadata

# Any number; the same in every process that migrates this database.
MIGRATION_LOCK = 0x706F7274  # "port"


def _run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Instances started together each run `portcullis migrate`: one migrates, the
        # others wait here and then find nothing left to do.
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url
    engine = create_engine(DatabaseUrl.parse(url))
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


asyncio.run(_run_async())
