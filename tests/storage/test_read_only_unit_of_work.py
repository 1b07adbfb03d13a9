"""A read-only unit of work on a real database: a write in it fails, its connection goes
back to the pool fit to write, and on SQLite it never queues for the write lock."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool

from portcullis.config import Settings
from portcullis.core.models import AccountStatus
from portcullis.services import Services
from portcullis.storage.database import DatabaseUrl
from tests.conftest import RunningServer
from tests.support import add_account, login
from tests.tokens import run_core

READER = "reader@example.org"
ORCID = "0000-0002-1825-0097"
PROMPTLY = 5  # seconds: far below busy_timeout, far above any read here


@contextlib.contextmanager
def write_lock_held(database: Path) -> Iterator[None]:
    """SQLite's write lock, held by another connection (as a sign-in or the purge would)."""
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_write_fails_and_the_connection_then_writes_again(settings: Settings) -> None:
    reader = add_account(settings, READER)

    async def body(services: Services) -> None:
        with pytest.raises(DBAPIError):
            async with services.unit_of_work(read_only=True) as uow:
                assert await uow.accounts.by_id(reader.id) is not None
                await uow.accounts.set_orcid(reader.id, ORCID)
        # One connection so far, back in the pool: the next unit of work gets it.
        pool = services.engine.pool
        assert isinstance(pool, QueuePool) and pool.checkedin() == 1
        async with services.unit_of_work(read_only=True) as uow:
            assert await uow.accounts.list(None, 10)
        async with services.unit_of_work() as uow:
            await uow.accounts.set_orcid(reader.id, ORCID)
            await uow.accounts.set_status(reader.id, AccountStatus.DISABLED)
        async with services.unit_of_work(read_only=True) as uow:
            stored = await uow.accounts.by_id(reader.id)
        assert pool.checkedin() == 1
        assert stored is not None and stored.orcid == ORCID
        assert stored.status is AccountStatus.DISABLED

    run_core(settings, body)


only_sqlite = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@only_sqlite
def test_a_read_does_not_wait_for_a_writer_on_sqlite(settings: Settings) -> None:
    reader = add_account(settings, READER)

    async def body(services: Services) -> None:
        async def read() -> None:
            async with services.unit_of_work(read_only=True) as uow:
                assert await uow.sessions.list(reader.id) == []
                assert await uow.accounts.by_id(reader.id) is not None

        async def write() -> None:
            async with services.unit_of_work() as uow:
                await uow.accounts.set_orcid(reader.id, ORCID)

        with write_lock_held(services.database.sqlite_path):
            await asyncio.wait_for(read(), PROMPTLY)
            # The control: a unit of work that may write queues for the lock.
            writing = asyncio.create_task(write())
            done, _ = await asyncio.wait({writing}, timeout=0.5)
            assert not done
        await asyncio.wait_for(writing, PROMPTLY)

    run_core(settings, body)


# Every list a superuser can page through, none of them short of rows.
LISTS = (
    "/auth/sessions",
    "/auth/tokens",
    "/auth/services",
    "/auth/admin/users",
    f"/auth/admin/users/{READER}/sessions",
    "/auth/admin/audit",
)


@only_sqlite
def test_every_list_answers_while_a_writer_holds_the_lock(
    settings: Settings, server: RunningServer
) -> None:
    add_account(settings, READER, superuser=True)
    database = DatabaseUrl.parse(settings.resolved_database_url)
    with server.client() as client:
        headers = {"X-Session-Token": login(client, READER)}
        with write_lock_held(database.sqlite_path):
            pages = {path: client.get(path, headers=headers, timeout=PROMPTLY) for path in LISTS}
    assert {path: page.status_code for path, page in pages.items()} == dict.fromkeys(LISTS, 200)
    assert len(pages["/auth/sessions"].json()) == 1
    assert len(pages["/auth/admin/users"].json()) == 1
