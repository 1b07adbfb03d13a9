"""The token checks keep the rows they read, and see at once what another writer commits.

SQLite reads a row again only once another connection has committed (PRAGMA
data_version); PostgreSQL reads only the rows' versions (xmin), and the whole rows when
they changed.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from portcullis.core.tokens import Hasher
from portcullis.storage.hot_path import PostgresHotPath, SqliteHotPath
from portcullis.storage.hot_path_sql import (
    SESSION_VERSIONS_PG,
    SESSIONS_QUERY_PG,
    TOKEN_VERSIONS_PG,
    TOKENS_QUERY_PG,
)
from tests.conftest import MakeServer, SettingsFactory
from tests.support import add_account, login

RENAME = "UPDATE accounts SET full_name = 'After'"


def asyncpg_dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(False)


def commit_elsewhere(database_url: str, statement: str) -> None:
    """``statement`` committed by a connection of its own, as another worker's or the CLI's."""
    if database_url.startswith("sqlite"):
        connection = sqlite3.connect(make_url(database_url).database or "", isolation_level=None)
        try:
            connection.execute(statement)
        finally:
            connection.close()
        return

    async def on_postgres() -> None:
        connection = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(on_postgres())


def signed_in_hash(settings_for: SettingsFactory, make_server: MakeServer) -> bytes:
    server = make_server(settings_for())
    add_account(server.settings, "kept@example.org", full_name="Before")
    with server.client() as client:
        token = login(client, "kept@example.org")
    return Hasher(server.settings.server_secret()).token_hash(token)


def test_sqlite_reads_a_row_again_only_after_another_connection_commits(
    database_url: str, settings_for: SettingsFactory, make_server: MakeServer
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("PRAGMA data_version is SQLite's; PostgreSQL's rows are in the next test")
    hashed = signed_in_hash(settings_for, make_server)
    hot_path = SqliteHotPath(Path(make_url(database_url).database or ""))
    statements: list[str] = []
    hot_path._reader().set_trace_callback(statements.append)

    async def check(change: str = "") -> tuple[str | None, list[str]]:
        if change:
            commit_elsewhere(database_url, change)
        statements.clear()
        found = await hot_path.find(hashed)
        assert found is not None
        return found[1].full_name, [statement.split()[0] for statement in statements]

    async def checks() -> list[tuple[str | None, list[str]]]:
        try:
            return [await check(), await check(), await check(RENAME), await check()]
        finally:
            await hot_path.close()

    assert asyncio.run(checks()) == [
        ("Before", ["PRAGMA", "SELECT"]),
        ("Before", ["PRAGMA"]),  # nothing committed since: the row read before
        ("After", ["PRAGMA", "SELECT"]),
        ("After", ["PRAGMA"]),
    ]


def test_postgresql_reads_a_whole_row_again_only_when_its_version_changed(
    database_url: str, settings_for: SettingsFactory, make_server: MakeServer
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the rows' xmin is PostgreSQL's; SQLite's rows are in the test before")
    hashed = signed_in_hash(settings_for, make_server)
    hot_path = PostgresHotPath(asyncpg_dsn(database_url))
    columns: list[int] = []  # of each row each query sent
    real_fetch = hot_path._connections.fetch

    async def counted(query: str, *args: object) -> list[Any]:
        rows = await real_fetch(query, *args)
        columns.extend(len(row) for row in rows)
        return rows

    hot_path._connections.fetch = counted  # type: ignore[method-assign]

    async def check(change: str = "") -> tuple[str | None, list[int]]:
        if change:
            connection = await asyncpg.connect(asyncpg_dsn(database_url))
            await connection.execute(change)
            await connection.close()
        columns.clear()
        found = await hot_path.find(hashed)
        assert found is not None
        return found[1].full_name, list(columns)

    async def checks() -> list[tuple[str | None, list[int]]]:
        try:
            return [await check() for _ in range(3)] + [
                await check(RENAME),
                await check(),
                await check(),
            ]
        finally:
            await hot_path.close()

    whole = 9 + 17 + 4  # the session's columns, the account's, snapshot, xmins and hash
    versions = 4  # snapshot, hash, xmins
    snapshot = 1
    assert asyncio.run(checks()) == [
        ("Before", [whole]),  # a token not kept: straight to its whole row
        ("Before", [versions]),  # the same versions: the row read before
        ("Before", [snapshot]),  # nothing committed since the last two: not even those
        ("After", [snapshot, versions, whole]),
        ("After", [versions]),  # the last batch's snapshot was new: the versions again
        ("After", [snapshot]),
    ]


def test_postgresql_sees_the_commit_of_a_transaction_older_than_the_last_one(
    database_url: str, settings_for: SettingsFactory, make_server: MakeServer
) -> None:
    """A revocation begun before another writer's commit, and committed after it: the
    snapshot's newest transaction does not move, only its list of running ones shrinks."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's snapshots")
    hashed = signed_in_hash(settings_for, make_server)
    dsn = asyncpg_dsn(database_url)
    hot_path = PostgresHotPath(dsn)

    async def checks() -> list[bool]:
        revoking = await asyncpg.connect(dsn)
        other = await asyncpg.connect(dsn)
        seen = []
        try:
            revoke = revoking.transaction()
            await revoke.start()
            await revoking.execute("DELETE FROM sessions WHERE token_hash = $1", hashed)
            await other.execute(RENAME)  # a later transaction, committed first
            for _ in range(3):  # the revocation is not committed: the session stands
                seen.append(await hot_path.find(hashed) is not None)
            await revoke.commit()
            seen.append(await hot_path.find(hashed) is not None)
            return seen
        finally:
            await revoking.close()
            await other.close()
            await hot_path.close()

    assert asyncio.run(checks()) == [True, True, True, False]


def test_postgresql_checks_racing_a_revocation_never_answer_from_before_it(
    database_url: str, settings_for: SettingsFactory, make_server: MakeServer
) -> None:
    """Thirty-two checks at a time, batched and kept as under load, while another
    connection revokes: every check begun after the revocation's commit is refused."""
    if not database_url.startswith("postgresql"):
        pytest.skip("the batched checks are PostgreSQL's")
    hashed = signed_in_hash(settings_for, make_server)
    dsn = asyncpg_dsn(database_url)
    hot_path = PostgresHotPath(dsn)
    revoking, committed = asyncio.Event(), asyncio.Event()
    warm = asyncio.Event()
    made = 0

    async def checker() -> list[tuple[bool, bool, bool]]:
        nonlocal made
        answers = []  # (begun before the revocation was sent, after it committed, found)
        while sum(after for _, after, _ in answers) < 20:
            before, after = not revoking.is_set(), committed.is_set()
            answers.append((before, after, await hot_path.find(hashed) is not None))
            made += 1
            if made >= 32 * 20:  # every check is kept by then, and the batches quiet
                warm.set()
        return answers

    async def revoker() -> None:
        writer = await asyncpg.connect(dsn)
        try:
            await warm.wait()
            revoking.set()
            await writer.execute("DELETE FROM sessions WHERE token_hash = $1", hashed)
            committed.set()
        finally:
            await writer.close()

    async def race() -> list[tuple[bool, bool, bool]]:
        try:
            *answers, _ = await asyncio.gather(*(checker() for _ in range(32)), revoker())
            return [answer for checker_answers in answers for answer in checker_answers]
        finally:
            await hot_path.close()

    answers = asyncio.run(race())
    before = [found for before, _, found in answers if before]
    after = [found for _, after, found in answers if after]
    assert len(before) >= 32 * 20 and all(before)
    assert after and not any(after)


def test_postgresql_finds_the_hot_paths_rows_by_their_indexes(database_url: str) -> None:
    """Small tables (the bench's, a young portal's) are not read whole at every check."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's planner")
    hot_path = PostgresHotPath(asyncpg_dsn(database_url))
    hashes = [bytes(32), bytes([1]) * 32]

    async def plans() -> tuple[str, list[str]]:
        fetch = hot_path._connections.fetch
        try:
            setting = str((await fetch("SHOW enable_seqscan"))[0][0])
            queries = (SESSION_VERSIONS_PG, SESSIONS_QUERY_PG, TOKEN_VERSIONS_PG, TOKENS_QUERY_PG)
            return setting, [
                "\n".join(row[0] for row in await fetch(f"EXPLAIN {query}", hashes))
                for query in queries
            ]
        finally:
            await hot_path.close()

    setting, explained = asyncio.run(plans())
    assert setting == "off"
    # The test database's tables are as small as tables get: the planner's own choice
    # for them is to read them whole.
    for plan in explained:
        assert "Seq Scan" not in plan, plan
        assert "Index" in plan, plan


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
    change: str, database_url: str, settings_for: SettingsFactory, make_server: MakeServer
) -> None:
    server = make_server(settings_for())
    add_account(server.settings, "watched@example.org")
    with server.client() as client:
        token = login(client, "watched@example.org")
        headers = {"X-Session-Token": token}
        for _ in range(3):  # kept by now, on the worker that answers
            assert client.get("/auth/profile", headers=headers).status_code == 200
            assert client.get("/auth/verify", headers=headers).status_code == 200
        commit_elsewhere(database_url, change)
        assert client.get("/auth/profile", headers=headers).status_code == 401
        assert client.get("/auth/verify", headers=headers).status_code == 401


@pytest.mark.parametrize(
    "change",
    ["DELETE FROM access_tokens", "UPDATE accounts SET status = 'disabled'"],
    ids=["revoked", "disabled"],
)
def test_a_personal_token_checked_again_and_again_is_refused_once_another_writer_commits(
    change: str, database_url: str, settings_for: SettingsFactory, make_server: MakeServer
) -> None:
    server = make_server(settings_for())
    add_account(server.settings, "pipeline@example.org")
    with server.client() as client:
        session = login(client, "pipeline@example.org")
        made = client.post(
            "/auth/tokens",
            json={"name": "pipeline", "scope": "read"},
            headers={"X-Session-Token": session},
        )
        assert made.status_code == 201, made.text
        headers = {"Authorization": f"Bearer {made.json()['token']}"}
        for _ in range(3):
            assert client.get("/auth/verify", headers=headers).status_code == 200
        commit_elsewhere(database_url, change)
        assert client.get("/auth/verify", headers=headers).status_code == 401
