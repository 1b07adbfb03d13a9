"""Safe headers on every answer, errors included, and CORS: off unless origins are listed."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from portcullis.config import Settings
from tests.conftest import MakeServer, SettingsFactory
from tests.support import RunningServer, add_account, login

APP = "https://app.example.org"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type",
}


def assert_safe(answer: httpx.Response, api: bool = True) -> None:
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
    if api:
        assert answer.headers["cache-control"] == "no-store"


def test_safe_headers_on_errors_too(settings_for: SettingsFactory, make_server: MakeServer) -> None:
    server = make_server(settings_for(rate_limit_login="1/hour", max_body_bytes=100))
    with server.client() as client:
        answers = {
            401: client.get("/auth/profile"),
            404: client.get("/auth/no-such-thing"),
            405: client.post("/auth/profile"),
            413: client.post("/auth/register", content=b"x" * 200),
            400: client.post("/auth/password/change", content=b"[1]"),
        }
        client.post("/auth/login", json={"login": "a", "password": "b"})
        answers[429] = client.post("/auth/login", json={"login": "a", "password": "b"})
        answers[200] = client.get("/healthz")
    for status, answer in answers.items():
        assert answer.status_code == status, (status, answer.text)
        assert_safe(answer, api=status != 200)


def test_no_cors_by_default(server: RunningServer) -> None:
    with server.client() as client:
        preflight = client.options("/auth/login", headers={"Origin": APP, **PREFLIGHT})
        simple = client.get("/auth/profile", headers={"Origin": APP})
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in simple.headers


class TestListedOrigins:
    @pytest.fixture
    def cors_server(self, settings_for: SettingsFactory, make_server: MakeServer) -> RunningServer:
        settings = settings_for(cors_origins=f"{APP}, https://other.example.org")
        add_account(settings, "ann@example.org")
        return make_server(settings)

    def test_a_listed_origin_may_call_with_credentials(self, cors_server: RunningServer) -> None:
        with cors_server.client() as client:
            preflight = client.options("/auth/login", headers={"Origin": APP, **PREFLIGHT})
            token = login(client, "ann@example.org")
            answer = client.get("/auth/profile", headers={"Origin": APP, "X-Session-Token": token})
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == APP
        assert preflight.headers["access-control-allow-credentials"] == "true"
        assert_safe(preflight)
        assert answer.headers["access-control-allow-origin"] == APP
        assert answer.headers["access-control-allow-credentials"] == "true"

    def test_an_unlisted_origin_is_refused(self, cors_server: RunningServer) -> None:
        evil = "https://evil.example.net"
        with cors_server.client() as client:
            preflight = client.options("/auth/login", headers={"Origin": evil, **PREFLIGHT})
            simple = client.get("/auth/profile", headers={"Origin": evil})
        assert preflight.status_code == 400
        assert preflight.headers.get("access-control-allow-origin") != evil
        # Without an allow-origin header the browser withholds the answer from the page.
        assert "access-control-allow-origin" not in simple.headers


def test_a_wildcard_origin_is_not_accepted(settings_for: SettingsFactory) -> None:
    with pytest.raises(ValidationError):
        settings_for(cors_origins="*")


def test_malformed_limits_and_proxies_are_refused_at_start(tmp_path: object) -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, rate_limit_login="lots")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        Settings(_env_file=None, trusted_proxies="proxy.example.org")  # type: ignore[call-arg]
