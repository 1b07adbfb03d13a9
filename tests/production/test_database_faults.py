"""The database under the service: dropped connections heal, an outage is a 503, then heals."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import MakeServer, SettingsFactory, _postgres_execute
from tests.support import PASSWORD, TcpRelay, add_account, fail_body, login

pytestmark = pytest.mark.postgres
UNAVAILABLE = fail_body("The service is temporarily unavailable.")


@pytest.fixture
def postgres_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL fault: SQLite has no connections to drop")
    return database_url


def terminate_backends(database_url: str) -> None:
    name = make_url(database_url).database
    asyncio.run(
        _postgres_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        )
    )


def test_terminated_connections_heal_without_a_500(
    postgres_url: str, settings_for: SettingsFactory, make_server: MakeServer
) -> None:
    server = make_server(settings_for())
    add_account(server.settings, "heal@example.org")
    with server.client() as client:
        token = login(client, "heal@example.org")
        for _ in range(3):
            terminate_backends(postgres_url)
            profile = client.get("/auth/profile", headers={"X-Session-Token": token})
            assert profile.status_code == 200, profile.text
            assert login(client, "heal@example.org")
            assert (
                client.post(
                    "/api/login", data={"username": "heal@example.org", "password": PASSWORD}
                ).status_code
                == 200
            )


def test_an_outage_is_a_503_in_each_dialect_and_service_resumes(
    postgres_url: str, settings_for: SettingsFactory, make_server: MakeServer
) -> None:
    url = make_url(postgres_url)
    relay = TcpRelay(url.host or "127.0.0.1", url.port or 5432)
    settings = settings_for(database_url=url.set(port=relay.port).render_as_string(False))
    add_account(settings, "outage@example.org")
    server = make_server(settings)
    with server.client() as client:
        token = login(client, "outage@example.org")
        assert client.get("/readyz").status_code == 200
        relay.cut()
        try:
            profile = client.get("/auth/profile", headers={"X-Session-Token": token})
            assert profile.status_code == 503
            assert profile.json() == UNAVAILABLE
            signin = client.post(
                "/auth/login", json={"login": "outage@example.org", "password": PASSWORD}
            )
            assert signin.status_code == 503
            assert signin.json() == UNAVAILABLE
            trackhub = client.post(
                "/api/login", data={"username": "outage@example.org", "password": PASSWORD}
            )
            assert trackhub.status_code == 503
            assert set(trackhub.json()) == {"error"}
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["database"].startswith("unavailable")
            assert client.get("/healthz").status_code == 200  # alive, just not ready
        finally:
            relay.restore()
        assert client.get("/auth/profile", headers={"X-Session-Token": token}).status_code == 200
        assert login(client, "outage@example.org")
        assert client.get("/readyz").json() == {
            "status": "ok",
            "database": "ok",
            "redis": "not configured",
            "hashing": "ok",
        }


def test_readyz_reports_redis(
    settings_for: SettingsFactory, make_server: MakeServer, redis_settings: dict[str, str]
) -> None:
    server = make_server(settings_for(**redis_settings))
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/readyz").json() == {
            "status": "ok",
            "database": "ok",
            "redis": "ok",
            "hashing": "ok",
        }
    down = make_server(settings_for(redis_url="redis://127.0.0.1:1/0"))
    with httpx.Client(base_url=down.url) as client:
        answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["redis"].startswith("unavailable")
