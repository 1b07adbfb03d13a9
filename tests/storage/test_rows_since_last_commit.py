"""SQLite's token checks read a row again only once another connection has committed."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from portcullis.core.tokens import Hasher
from portcullis.storage.hot_path import SqliteHotPath
from tests.conftest import MakeServer, SettingsFactory
from tests.support import add_account, login


@pytest.fixture
def sqlite_file(database_url: str) -> Path:
    if not database_url.startswith("sqlite"):
        pytest.skip("PRAGMA data_version is SQLite's: PostgreSQL reads the row at every check")
    return Path(make_url(database_url).database or "")


@pytest.fixture
def other_connection(sqlite_file: Path) -> Iterator[sqlite3.Connection]:
    """Another writer, as another worker or the CLI would be."""
    connection = sqlite3.connect(sqlite_file, isolation_level=None)
    yield connection
    connection.close()


def test_a_row_is_read_again_only_after_another_connection_commits(
    sqlite_file: Path,
    other_connection: sqlite3.Connection,
    settings_for: SettingsFactory,
    make_server: MakeServer,
) -> None:
    server = make_server(settings_for())
    add_account(server.settings, "kept@example.org", full_name="Before")
    with server.client() as client:
        token = login(client, "kept@example.org")
    hashed = Hasher(server.settings.server_secret()).token_hash(token)
    hot_path = SqliteHotPath(sqlite_file)
    statements: list[str] = []
    hot_path._reader().set_trace_callback(statements.append)

    async def check(change: str = "") -> tuple[str | None, list[str]]:
        if change:
            other_connection.execute(change)
        statements.clear()
        found = await hot_path.find(hashed)
        assert found is not None
        return found[1].full_name, [statement.split()[0] for statement in statements]

    async def checks() -> list[tuple[str | None, list[str]]]:
        try:
            return [
                await check(),
                await check(),
                await check("UPDATE accounts SET full_name = 'After'"),
                await check(),
            ]
        finally:
            await hot_path.close()

    assert asyncio.run(checks()) == [
        ("Before", ["PRAGMA", "SELECT"]),
        ("Before", ["PRAGMA"]),  # nothing committed since: the row read before
        ("After", ["PRAGMA", "SELECT"]),
        ("After", ["PRAGMA"]),
    ]


@pytest.mark.parametrize(
    "change",
    [
        "DELETE FROM sessions",
        "UPDATE accounts SET status = 'disabled'",
        "UPDATE sessions SET expires_at = 1",
    ],
    ids=["revoked", "disabled", "expired"],
)
def test_a_token_checked_again_and_again_is_refused_once_another_writer_commits(
    change: str,
    other_connection: sqlite3.Connection,
    settings_for: SettingsFactory,
    make_server: MakeServer,
) -> None:
    server = make_server(settings_for())
    add_account(server.settings, "watched@example.org")
    with server.client() as client:
        token = login(client, "watched@example.org")
        headers = {"X-Session-Token": token}
        for _ in range(3):  # kept by now, on the worker that answers
            assert client.get("/auth/profile", headers=headers).status_code == 200
            assert client.get("/auth/verify", headers=headers).status_code == 200
        other_connection.execute(change)
        assert client.get("/auth/profile", headers=headers).status_code == 401
        assert client.get("/auth/verify", headers=headers).status_code == 401
