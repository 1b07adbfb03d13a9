"""Redirects never follow the Host header; the framework's own answers speak each dialect."""

from __future__ import annotations

import pytest

from tests.conftest import MakeServer, SettingsFactory
from tests.raw_http import RawAnswer, raw_request
from tests.support import RunningServer

EVIL_HOST = "evil.example"
APP = "https://app.example.org"


def assert_in_dialect(answer: RawAnswer, path: str, status: int) -> None:
    assert answer.status == status, answer.body
    if path.startswith("/account"):
        assert answer.headers["content-type"].startswith("text/html")
        assert b"<html" in answer.body
    elif path.startswith("/api"):
        assert answer.headers["content-type"].startswith("application/json")
        assert set(answer.json()) == {"error"}
    else:
        assert answer.headers["content-type"] == "application/json"
        body = answer.json()
        assert body["status"] == "FAIL" and body["log"]["level"] == "ERROR"


@pytest.mark.parametrize(
    ("method", "target", "location"),
    [
        ("POST", "/auth/login/", "/auth/login"),
        ("GET", "/auth/profile/?BIOSTDSESS=x", "/auth/profile?BIOSTDSESS=x"),
        ("GET", "/api/login/", "/api/login"),
        ("GET", "/account/signin/", "/account/signin"),
        ("GET", "/account/profile/", "/account/profile"),
        ("GET", "/auth/admin/users/a@b.org/sessions/", "/auth/admin/users/a%40b.org/sessions"),
    ],
)
def test_the_trailing_slash_redirect_is_relative(
    server: RunningServer, method: str, target: str, location: str
) -> None:
    answer = raw_request(server.url, method, target, host=EVIL_HOST)
    assert answer.status == 307, answer.body
    assert answer.headers["location"] == location
    assert EVIL_HOST not in answer.headers["location"]


def test_no_answer_names_the_host_header(server: RunningServer) -> None:
    # The pages' own redirects, and paths no route takes with or without the slash.
    for method, target in [
        ("GET", "/account"),
        ("GET", "/account/"),
        ("GET", "/account/profile"),
        ("GET", "//evil.example/"),
        ("GET", "/auth/nowhere/"),
    ]:
        answer = raw_request(server.url, method, target, host=EVIL_HOST)
        assert EVIL_HOST.encode() not in answer.body, target
        assert EVIL_HOST not in answer.headers.get("location", ""), target


@pytest.fixture
def cors_server(settings_for: SettingsFactory, make_server: MakeServer) -> RunningServer:
    return make_server(settings_for(cors_origins=APP))


@pytest.mark.parametrize(
    "path", ["/auth/login", "/auth/logout/all", "/api/login", "/account/signin", "/elsewhere"]
)
@pytest.mark.parametrize(
    "preflight",
    [
        {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        # PUT and PATCH pass: the registry's front end changes and resets passwords so.
        {"Origin": APP, "Access-Control-Request-Method": "TRACE"},
        {
            "Origin": APP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-Evil",
        },
    ],
)
def test_a_refused_preflight_answers_in_the_dialect(
    cors_server: RunningServer, path: str, preflight: dict[str, str]
) -> None:
    answer = raw_request(cors_server.url, "OPTIONS", path, preflight)
    assert_in_dialect(answer, path, 400)
    assert answer.headers.get("access-control-allow-origin") is None
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_an_allowed_preflight_still_passes(cors_server: RunningServer) -> None:
    preflight = {"Origin": APP, "Access-Control-Request-Method": "POST"}
    answer = raw_request(cors_server.url, "OPTIONS", "/auth/login", preflight)
    assert answer.status == 200
    assert answer.headers["access-control-allow-origin"] == APP


def test_the_registrys_front_end_may_patch(cors_server: RunningServer) -> None:
    preflight = {
        "Origin": APP,
        "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "Authorization, Content-Type",
    }
    answer = raw_request(cors_server.url, "OPTIONS", "/api/reset_password_complete", preflight)
    assert answer.status == 200
    assert answer.headers["access-control-allow-origin"] == APP


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/logout/nowhere", 404),
        ("PUT", "/api/login", 405),
        ("PATCH", "/auth/login", 405),  # httptools refuses unregistered methods itself
        ("DELETE", "/account/signin", 405),
        ("GET", "/account/static/no-such.css", 404),
        ("POST", "/account/static/portcullis.css", 405),
        ("GET", "/nowhere", 404),  # "/" itself leads a browser to the pages
        ("POST", "/", 405),
    ],
)
def test_unknown_paths_and_methods_answer_in_the_dialect(
    server: RunningServer, method: str, path: str, status: int
) -> None:
    answer = raw_request(server.url, method, path)
    assert_in_dialect(answer, path, status)
    if status == 405:
        assert answer.headers["allow"]
