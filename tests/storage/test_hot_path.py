"""Signing in's one write on the raw drivers: waits for locks off the loop, never twice."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from portcullis.config import Settings
from portcullis.core.models import AuditEvent, AuditKind, Session
from portcullis.storage.hot_path import PostgresHotPath
from tests.conftest import MakeServer, SettingsFactory
from tests.support import PASSWORD, add_account, login


def test_a_sign_in_waits_for_another_writer_while_token_checks_go_on(
    database_url: str, settings_for: SettingsFactory, make_server: MakeServer
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock: PostgreSQL locks rows, not the database")
    server = make_server(settings_for())
    add_account(server.settings, "waits@example.org")
    with server.client() as client:
        token = login(client, "waits@example.org")

        # Another process's transaction holds the database's one write lock.
        other_writer = sqlite3.connect(Path(make_url(database_url).database or ""))
        other_writer.isolation_level = None
        other_writer.execute("BEGIN IMMEDIATE")
        answers: list[httpx.Response] = []
        signing_in = threading.Thread(
            target=lambda: answers.append(
                client.post(
                    "/auth/login", json={"login": "waits@example.org", "password": PASSWORD}
                )
            )
        )
        try:
            signing_in.start()
            signing_in.join(1.0)
            assert signing_in.is_alive(), "the sign-in did not wait for the write lock"
            # The sign-in waits on its writer thread, not on the event loop.
            profile = client.get("/auth/profile", headers={"X-Session-Token": token})
            assert profile.status_code == 200
            assert signing_in.is_alive()
        finally:
            other_writer.execute("COMMIT")
            other_writer.close()
        signing_in.join(10)
        assert [answer.status_code for answer in answers] == [200]
        new_token = answers[0].json()["sessid"]
        assert client.get("/auth/profile", headers={"X-Session-Token": new_token}).is_success


def test_a_sign_in_cut_after_its_commit_is_written_once(
    database_url: str, settings_for: SettingsFactory
) -> None:
    """The connection drops after PostgreSQL committed: the retry finds the session there."""
    if not database_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL fault: SQLite has no connection to lose")
    settings = settings_for()
    account = add_account(settings, "once@example.org")
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    now = datetime.now(UTC).replace(microsecond=0)
    session = Session(
        id="cut-after-commit",
        account_id=account.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=1),
        client_address="192.0.2.1",
        user_agent="test",
    )
    event = AuditEvent(
        kind=AuditKind.LOGIN_SUCCEEDED,
        at=now,
        account_id=account.id,
        subject="once@example.org",
        detail=None,
        actor_id=None,
        client_address="192.0.2.1",
        user_agent="test",
    )

    async def run() -> tuple[int, int, int]:
        hot_path = PostgresHotPath(dsn)
        real_fetchrow = hot_path._connections.fetchrow
        calls = 0

        async def commit_then_drop(query: str, *args: object) -> object:
            nonlocal calls
            calls += 1
            row = await real_fetchrow(query, *args)
            if calls == 1:
                raise ConnectionResetError("lost after the commit")
            return row

        hot_path._connections.fetchrow = commit_then_drop  # type: ignore[method-assign]
        try:
            await hot_path.start(session, b"\x01" * 32, event)
        finally:
            await hot_path.close()
        check = await asyncpg.connect(dsn)
        try:
            sessions = await check.fetchval(
                "SELECT count(*) FROM sessions WHERE id = $1", session.id
            )
            events = await check.fetchval(
                "SELECT count(*) FROM audit_log WHERE kind = $1 AND account_id = $2",
                AuditKind.LOGIN_SUCCEEDED.value,
                account.id,
            )
        finally:
            await check.close()
        return calls, sessions, events

    calls, sessions, events = asyncio.run(run())
    assert calls == 2  # it did retry
    assert (sessions, events) == (1, 1)


def test_a_token_check_records_activity_at_most_once_a_minute(
    database_url: str, settings_for: SettingsFactory, make_server: MakeServer
) -> None:
    from sqlalchemy import select, update

    from portcullis.services import build_services
    from portcullis.storage.tables import accounts, sessions

    server = make_server(settings_for())
    add_account(server.settings, "active@example.org")

    async def in_database(statement: Any) -> Any:
        services = build_services(server.settings)
        try:
            async with services.engine.begin() as db:
                result = await db.execute(statement)
                return result.first() if statement.is_select else None
        finally:
            await services.close()

    seen = select(sessions.c.last_seen_at, accounts.c.last_activity_at).join(
        accounts, accounts.c.id == sessions.c.account_id
    )
    with server.client() as client:
        token = login(client, "active@example.org")
        signed_in_at = asyncio.run(in_database(seen))[0]
        ten_minutes_ago = signed_in_at - 600
        asyncio.run(in_database(update(sessions).values(last_seen_at=ten_minutes_ago)))
        asyncio.run(in_database(update(accounts).values(last_activity_at=ten_minutes_ago)))

        assert client.get("/auth/profile", headers={"X-Session-Token": token}).is_success
        last_seen, last_activity = asyncio.run(in_database(seen))
        assert last_seen >= signed_in_at and last_activity == last_seen  # written now

        asyncio.run(in_database(update(sessions).values(last_seen_at=last_seen - 30)))
        assert client.get("/auth/profile", headers={"X-Session-Token": token}).is_success
        assert asyncio.run(in_database(seen))[0] == last_seen - 30  # within the minute: no write


def test_many_token_checks_at_once_each_get_their_own_answer(
    settings: Settings, make_server: MakeServer
) -> None:
    """On PostgreSQL checks in flight together share a query: none may get another's answer."""
    server = make_server(settings)
    people = [f"gathered-{n}@example.org" for n in range(4)]
    tokens: dict[str, str] = {}
    with server.client() as client:
        for person in people:
            add_account(server.settings, person)
            tokens[login(client, person)] = person
            ended = login(client, person)
            assert client.post("/auth/logout", json={"sessid": ended}).is_success
            tokens[ended] = ""  # ended: refused
    for n in range(4):
        tokens[f"never-issued-{n}-{'x' * 40}"] = ""

    async def check_all_at_once() -> list[tuple[str, int, str]]:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:

            async def check(token: str) -> tuple[str, int, str]:
                answer = await client.get("/auth/profile", headers={"X-Session-Token": token})
                email = answer.json().get("email", "") if answer.is_success else ""
                return token, answer.status_code, email

            return await asyncio.gather(*(check(token) for token in list(tokens) * 8))

    for token, status, email in asyncio.run(check_all_at_once()):
        assert (status, email) == ((200, tokens[token]) if tokens[token] else (401, ""))
