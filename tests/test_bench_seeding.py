"""The scale run's rows, written below HTTP, are rows the service takes as its own.

A small shape on each engine: seeded by bench/seeding.py into a migrated database, then
used through the API as the scale run uses it (sign-ins, profiles, the lists), purged,
and added to (so PostgreSQL's sequences were moved past the given ids).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from bench import seeding, service
from bench.service import PASSWORD
from portcullis.config import Settings
from portcullis.services import build_services
from tests.conftest import MakeServer
from tests.support import login as support_login

SHAPE = seeding.Shape(
    accounts=300, live_sessions=900, expired_sessions=250, crowded_sessions=40, audit_rows=2000
)


async def _purge(settings: Settings) -> int:
    services = build_services(settings)
    try:
        return (await services.housekeeping.purge()).sessions
    finally:
        await services.close()


def login(client: httpx.Client, who: str) -> str:
    return support_login(client, who, PASSWORD)


def _seed(settings: Settings) -> seeding.Seeded:
    password_hash = service.password_hash(settings)
    url = make_url(settings.resolved_database_url)
    now = int(time.time())
    if url.get_backend_name() == "sqlite":
        return seeding.seed_sqlite(Path(str(url.database)), SHAPE, password_hash, now)
    dsn = url.set(drivername="postgresql").render_as_string(False)
    return seeding.seed_postgres(dsn, SHAPE, password_hash, now)


def test_seeded_accounts_sign_in_and_their_sessions_lists_and_trail_are_served(
    settings: Settings, make_server: MakeServer
) -> None:
    seeded = _seed(settings)
    sessions = SHAPE.live_sessions + SHAPE.crowded_sessions + SHAPE.expired_sessions
    assert seeded.rows == {
        "accounts": SHAPE.accounts,
        "sessions": sessions,
        "audit_log": SHAPE.audit_rows,
    }
    server = make_server(settings)
    with server.client() as client:
        token = login(client, seeding.email_of(150))
        profile = client.get("/auth/profile", headers={"X-Session-Token": token})
        assert profile.status_code == 200
        tags = [tag for tag in profile.json()["allow"] if tag.startswith("S-SCL")]
        assert len(tags) == 3

        admin = login(client, seeding.email_of(seeding.ADMIN_ID))
        as_admin = {"X-Session-Token": admin}
        users = client.get("/auth/admin/users?limit=100", headers=as_admin)
        assert users.status_code == 200
        assert len(users.json()) == 100
        assert 'rel="next"' in users.headers["link"]
        who = seeding.email_of(7)
        trail = client.get(f"/auth/admin/audit?user={who}&limit=1000", headers=as_admin)
        assert trail.status_code == 200
        assert trail.json() and all(event["subject"] == who for event in trail.json())

        crowded = login(client, seeding.email_of(seeding.CROWDED_ID))
        listed = client.get("/auth/sessions", headers={"X-Session-Token": crowded})
        assert listed.status_code == 200
        assert len(listed.json()) >= min(SHAPE.crowded_sessions + 1, 100)

        # The ids were given, not drawn: the next account must still get a free one.
        register = {"email": "after-seeding@example.org", "password": PASSWORD, "name": "New"}
        link = {"instanceKey": "default", "path": "activate"}
        assert client.post("/auth/register", json={**register, **link}).status_code == 201

    # Only the expired sessions lapse: the live ones were seen within the idle limit.
    assert asyncio.run(_purge(settings)) == SHAPE.expired_sessions


@pytest.mark.parametrize("path", ["sessions", "audit_log"])
def test_the_indexes_dropped_for_the_load_are_all_back(settings: Settings, path: str) -> None:
    """The load drops a table's indexes and constraints and makes them again: the
    migrated schema's check (tests/storage) would miss none gone, so ask the engine."""
    before = _index_names(settings, path)
    assert len(before) >= 2  # the table's key, and the indexes its lists and purges go by
    _seed(settings)
    assert _index_names(settings, path) == before


def _index_names(settings: Settings, table: str) -> set[str]:
    """Every index and constraint of ``table``, by name, as the engine lists them."""
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite":
        with sqlite3.connect(str(url.database)) as connection:
            found = connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (table,)
            )
            return {name for (name,) in found}

    async def names() -> set[str]:
        connection = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(False))
        try:
            rows = await connection.fetch(
                "SELECT indexname AS name FROM pg_indexes WHERE tablename = $1 UNION"
                " SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass",
                table,
            )
            return {row["name"] for row in rows}
        finally:
            await connection.close()

    return asyncio.run(names())
