"""Housekeeping on a real database: what has lapsed goes, batch by batch; nothing else."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select

from portcullis.config import Settings
from portcullis.core.housekeeping import Housekeeping, Purged
from portcullis.services import SystemClock, build_services
from portcullis.storage.batches import batch_of
from portcullis.storage.tables import access_tokens, audit_log, one_time_keys, sessions
from tests.processes import portcullis_env, run_cli
from tests.support import add_account, login, start_server

NOW = datetime.now(UTC)
DAY = 24 * 3600


def at(days_ago: float) -> int:
    return int((NOW - timedelta(days=days_ago)).timestamp())


def session_row(account_id: int, *, seen_days_ago: float, expires_in_days: float, api: bool) -> Any:
    return {
        "id": secrets.token_hex(16),
        "token_hash": secrets.token_bytes(32),
        "account_id": account_id,
        "created_at": at(seen_days_ago + 1),
        "last_seen_at": at(seen_days_ago),
        "expires_at": at(-expires_in_days),
        "client_address": None,
        "user_agent": None,
        "opened_by": None,
        "api_token": api,
    }


class Seeded:
    """Counts of what the seed wrote, lapsed and live."""

    expired_sessions = 23
    idle_sessions = 9
    live_sessions = 5
    idle_api_tokens = 4  # imported registry tokens: idle, not expired: they stay
    expired_keys = 11
    live_keys = 2
    expired_tokens = 8
    live_tokens = 3
    old_events = 31
    recent_events = 6


def seed(settings: Settings) -> None:
    account = add_account(settings, "keeper@example.org")
    idle_days = settings.session_idle_seconds / DAY + 1
    rows = [
        *(
            session_row(account.id, seen_days_ago=3, expires_in_days=-1, api=False)
            for _ in range(Seeded.expired_sessions)
        ),
        *(
            session_row(account.id, seen_days_ago=idle_days, expires_in_days=5, api=False)
            for _ in range(Seeded.idle_sessions)
        ),
        *(
            session_row(account.id, seen_days_ago=0, expires_in_days=5, api=False)
            for _ in range(Seeded.live_sessions)
        ),
        *(
            session_row(account.id, seen_days_ago=idle_days, expires_in_days=5, api=True)
            for _ in range(Seeded.idle_api_tokens)
        ),
    ]
    keys = [
        {
            "key_hash": secrets.token_bytes(32),
            "account_id": account.id,
            "purpose": "password_reset",
            "created_at": at(2),
            "expires_at": at(1 if n < Seeded.expired_keys else -1),
            "new_email": None,
        }
        for n in range(Seeded.expired_keys + Seeded.live_keys)
    ]
    tokens = [
        {
            "id": secrets.token_hex(8),
            "token_hash": secrets.token_bytes(32),
            "account_id": account.id,
            "kind": "personal",
            "name": f"t{n}",
            "scope": "read",
            "created_at": at(30),
            "expires_at": at(1 if n < Seeded.expired_tokens else -30),
            "last_used_at": None,
        }
        for n in range(Seeded.expired_tokens + Seeded.live_tokens)
    ]
    retention = settings.audit_retention_days
    events = [
        {"at": at(retention + 1 + n if n < Seeded.old_events else n), "kind": "login_succeeded"}
        for n in range(Seeded.old_events + Seeded.recent_events)
    ]

    async def write() -> None:
        services = build_services(settings)
        try:
            async with services.engine.begin() as connection:
                await connection.execute(insert(sessions), rows)
                await connection.execute(insert(one_time_keys), keys)
                await connection.execute(insert(access_tokens), tokens)
                await connection.execute(insert(audit_log), events)
        finally:
            await services.close()

    asyncio.run(write())


def counts(settings: Settings) -> dict[str, int]:
    async def read() -> dict[str, int]:
        services = build_services(settings)
        try:
            async with services.engine.connect() as connection:
                found = {}
                for table in (sessions, one_time_keys, access_tokens, audit_log):
                    query = select(func.count()).select_from(table)
                    found[table.name] = (await connection.execute(query)).scalar_one()
                return found
        finally:
            await services.close()

    return asyncio.run(read())


def purged_in_batches(settings: Settings, batch: int) -> Purged:
    async def run() -> Purged:
        services = build_services(settings)
        try:
            retention = timedelta(days=settings.audit_retention_days)
            house = Housekeeping(
                services.sessions,
                services.accounts,
                services.tokens,
                services.audit,
                SystemClock(),
                retention,
                batch=batch,
            )
            return await house.purge()
        finally:
            await services.close()

    return asyncio.run(run())


def test_what_lapsed_goes_in_batches_and_the_rest_stays(
    settings_for: Callable[..., Settings],
) -> None:
    settings = settings_for()
    seed(settings)
    before = counts(settings)
    # Batches of 4: every kind needs several, one of them ending exactly on a batch.
    purged = purged_in_batches(settings, batch=4)
    assert purged == Purged(
        sessions=Seeded.expired_sessions + Seeded.idle_sessions,
        keys=Seeded.expired_keys,
        tokens=Seeded.expired_tokens,
        audit_events=Seeded.old_events,
    )
    after = counts(settings)
    assert after == {
        "sessions": before["sessions"] - purged.sessions,
        "one_time_keys": Seeded.live_keys,
        "access_tokens": Seeded.live_tokens,
        # The add_account's own event is recent: it stays with the seeded recent ones.
        "audit_log": before["audit_log"] - Seeded.old_events,
    }
    assert after["sessions"] == Seeded.live_sessions + Seeded.idle_api_tokens
    # A second run finds nothing more.
    assert purged_in_batches(settings, batch=4) == Purged(0, 0, 0, 0)


def test_retention_zero_keeps_the_trail(settings_for: Callable[..., Settings]) -> None:
    settings = settings_for()
    seed(settings)
    events = counts(settings)["audit_log"]
    kept = settings_for(audit_retention_days=0)

    async def run() -> Purged:
        services = build_services(kept)
        try:
            return await services.housekeeping.purge()
        finally:
            await services.close()

    assert asyncio.run(run()).audit_events == 0
    assert counts(settings)["audit_log"] == events


def test_the_purge_command_while_token_checks_run(
    settings_for: Callable[..., Settings],
) -> None:
    """``portcullis purge`` in its own process, against the database a server is serving
    token checks from: every check answers while the batches are deleted."""
    settings = settings_for()
    seed(settings)
    server = start_server(settings)
    try:
        with server.client() as client:
            token = login(client, "keeper@example.org")
        answers: list[int] = []
        done = threading.Event()

        def check() -> None:
            with server.client() as client:
                while not done.is_set():
                    status = client.get("/auth/profile", headers={"X-Session-Token": token})
                    answers.append(status.status_code)

        checker = threading.Thread(target=check)
        checker.start()
        env = portcullis_env(settings.data_dir, database_url=settings.database_url)
        ran = run_cli(env, "purge")
        done.set()
        checker.join()
    finally:
        server.stop()
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == (
        f"purged {Seeded.expired_sessions + Seeded.idle_sessions} sessions,"
        f" {Seeded.expired_keys} one-time keys, {Seeded.expired_tokens} access tokens"
        f" and {Seeded.old_events} audit events"
    )
    assert answers and set(answers) == {200}
    assert counts(settings)["sessions"] == Seeded.live_sessions + Seeded.idle_api_tokens + 1


def test_a_serving_worker_purges_on_its_interval_and_not_at_all_on_zero(
    settings_for: Callable[..., Settings],
) -> None:
    """Each worker purges every PORTCULLIS_PURGE_INTERVAL_SECONDS; 0 leaves it to cron."""
    never = settings_for(purge_interval_seconds=0)
    seed(never)
    before = counts(never)["sessions"]
    server = start_server(never)
    try:
        time.sleep(2.5)
    finally:
        server.stop()
    assert counts(never)["sessions"] == before

    often = settings_for(purge_interval_seconds=1)
    server = start_server(often)
    try:
        deadline = time.monotonic() + 30
        while counts(often)["sessions"] == before and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        server.stop()
    assert counts(often)["sessions"] == Seeded.live_sessions + Seeded.idle_api_tokens


# What each database says when it goes to a row by its address, and by the primary key.
BY_ADDRESS = {"postgresql": "Tid Scan on sessions", "sqlite": "USING INTEGER PRIMARY KEY"}
BY_PRIMARY_KEY = {"postgresql": "pk_sessions", "sqlite": "sqlite_autoindex_sessions_1"}
EXPLAIN = {"postgresql": "EXPLAIN", "sqlite": "EXPLAIN QUERY PLAN"}


def test_a_batch_goes_to_its_rows_by_address_not_by_key(
    settings_for: Callable[..., Settings],
) -> None:
    settings = settings_for()
    account = add_account(settings, "many@example.org")
    # Enough rows that PostgreSQL's plan is the one a large table gets, not a hash join.
    expired = session_row(account.id, seen_days_ago=3, expires_in_days=-1, api=False)
    live = session_row(account.id, seen_days_ago=0, expires_in_days=5, api=False)
    rows = [
        {**(expired if n % 2 else live), "id": f"{n:032x}", "token_hash": secrets.token_bytes(32)}
        for n in range(20_000)
    ]

    async def plan() -> tuple[str, str]:
        services = build_services(settings)
        try:
            async with services.engine.begin() as connection:
                await connection.execute(insert(sessions), rows)
            async with services.engine.connect() as connection:
                dialect = connection.dialect.name
                if dialect == "postgresql":
                    await connection.exec_driver_sql("ANALYZE sessions")
                lapsed = sessions.c.expires_at <= at(0)
                statement = batch_of(dialect, sessions, lapsed, 500).compile(
                    dialect=connection.dialect, compile_kwargs={"literal_binds": True}
                )
                explained = await connection.exec_driver_sql(f"{EXPLAIN[dialect]} {statement}")
                return dialect, "\n".join(str(row[-1]) for row in explained)
        finally:
            await services.close()

    dialect, plan_text = asyncio.run(plan())
    assert BY_ADDRESS[dialect] in plan_text, plan_text
    assert BY_PRIMARY_KEY[dialect] not in plan_text, plan_text
    assert purged_in_batches(settings, batch=500).sessions == 10_000
