"""Fixtures: a real database per test (SQLite and PostgreSQL), a real server per test."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis
from sqlalchemy.engine import make_url

from portcullis.config import Settings
from portcullis.storage import schema
from portcullis.storage.database import DatabaseUrl
from tests.support import RunningServer, start_server

POSTGRES_URL = os.environ.get(
    "PORTCULLIS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("PORTCULLIS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

# Cheap hashing in tests: the parameters are the operator's, the code path is the same.
FAST_ARGON2 = {"argon2_memory_kib": 1024, "argon2_time_cost": 1, "argon2_parallelism": 1}


def _postgres_admin_dsn() -> str:
    return make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(False)


def _postgres_url_for(database: str) -> str:
    return make_url(POSTGRES_URL).set(database=database).render_as_string(False)


async def _postgres_execute(*statements: str) -> None:
    connection = await asyncpg.connect(_postgres_admin_dsn(), timeout=3)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def _postgres_unreachable() -> str | None:
    try:
        asyncio.run(_postgres_execute("SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        return f"PostgreSQL not reachable at {POSTGRES_URL}: {error}"
    return None


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "portcullis.db"
    schema.upgrade(DatabaseUrl.parse(f"sqlite:///{path}"))
    return path


@contextlib.contextmanager
def postgres_database(prefix: str, template: str | None = None) -> Iterator[str]:
    """A database made for the caller (from ``template`` if given), dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    from_template = f' TEMPLATE "{template}"' if template else ""
    asyncio.run(_postgres_execute(f'CREATE DATABASE "{name}"{from_template}'))
    try:
        yield name
    finally:
        asyncio.run(_postgres_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    reason = _postgres_unreachable()
    if reason:
        pytest.skip(reason)
    with postgres_database("portcullis_template") as name:
        schema.upgrade(DatabaseUrl.parse(_postgres_url_for(name)))
        yield name


ENGINES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=ENGINES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database of its own for each test, on each engine."""
    if request.param == "sqlite":
        path = tmp_path / "data" / "portcullis.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("postgres_template")
    with postgres_database("portcullis_test", template) as name:
        yield _postgres_url_for(name)


@pytest.fixture(params=ENGINES)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all, on each engine."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty' / 'portcullis.db'}"
        return
    reason = _postgres_unreachable()
    if reason:
        pytest.skip(reason)
    with postgres_database("portcullis_test") as name:
        yield _postgres_url_for(name)


SettingsFactory = Callable[..., Settings]


@pytest.fixture
def settings_for(tmp_path: Path, database_url: str) -> SettingsFactory:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "database_url": database_url,
            "mail_poll_seconds": 0.05,
            "redis_url": "",
            **FAST_ARGON2,
            **overrides,
        }
        return Settings(_env_file=None, **values)

    return make


@pytest.fixture
def settings(settings_for: SettingsFactory) -> Settings:
    return settings_for()


MakeServer = Callable[..., RunningServer]


@pytest.fixture
def make_server() -> Iterator[MakeServer]:
    """Starts servers (on a given pre-bound socket, if any) and stops them after the test."""
    running: list[RunningServer] = []

    def make(settings: Settings, sock: socket.socket | None = None) -> RunningServer:
        server = start_server(settings, sock)
        running.append(server)
        return server

    yield make
    for server in running:
        server.stop()


@pytest.fixture
def server(settings: Settings, make_server: MakeServer) -> RunningServer:
    return make_server(settings)


def _redis_unreachable() -> str | None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except (redis.RedisError, OSError) as error:
        return f"Redis not reachable at {REDIS_URL}: {error}"
    return None


@pytest.fixture
def redis_settings() -> Iterator[dict[str, str]]:
    """Settings that put the counters in the test Redis, under a key prefix of this test's."""
    reason = _redis_unreachable()
    if reason:
        pytest.skip(reason)
    prefix = f"portcullis-test-{uuid.uuid4().hex[:12]}"
    yield {"redis_url": REDIS_URL, "redis_key_prefix": prefix}
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()
