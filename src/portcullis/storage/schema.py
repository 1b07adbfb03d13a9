"""Bringing the schema up to date with Alembic, and telling whether it is."""

from __future__ import annotations

import asyncio
import fcntl
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy.engine import Connection

from portcullis.storage.database import DatabaseUrl, create_engine, prepare_sqlite_file

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database: DatabaseUrl) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option(
        "sqlalchemy.url", database.url.render_as_string(hide_password=False).replace("%", "%%")
    )
    return config


def upgrade(database: DatabaseUrl) -> None:
    """Migrate to head. Runs its own event loop: call it outside one.

    Safe to run from several processes at once: they take turns (PostgreSQL by an
    advisory lock in the migration environment, SQLite by a lock file beside the
    database), and the later ones find the schema already at head.
    """
    if not database.is_sqlite:
        command.upgrade(alembic_config(database), "head")
        return
    path = database.sqlite_path
    prepare_sqlite_file(path)
    with open(f"{path}.migrate-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        command.upgrade(alembic_config(database), "head")


def head_revision(database: DatabaseUrl) -> str | None:
    return ScriptDirectory.from_config(alembic_config(database)).get_current_head()


async def current_revision(database: DatabaseUrl) -> str | None:
    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    engine = create_engine(database)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(read)
    finally:
        await engine.dispose()


@dataclass(frozen=True, slots=True)
class SchemaState:
    revision: str | None  # None: no schema yet
    known: bool  # False: a newer release made it
    at_head: bool


def state(database: DatabaseUrl) -> SchemaState:
    """Where the database's schema stands, from one read of its revision."""
    current = asyncio.run(current_revision(database))
    scripts = ScriptDirectory.from_config(alembic_config(database))
    known = True
    if current is not None:
        try:
            scripts.get_revision(current)
        except (CommandError, RevisionError):
            known = False
    return SchemaState(current, known, current == scripts.get_current_head())


def is_up_to_date(database: DatabaseUrl) -> bool:
    return state(database).at_head
