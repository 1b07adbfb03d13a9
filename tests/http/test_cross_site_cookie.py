"""The BIOSTDSESS cookie changes nothing for a page of another site; the header token does."""

from __future__ import annotations

import pytest

from tests.conftest import MakeServer, SettingsFactory
from tests.raw_http import RawAnswer, raw_request
from tests.support import RunningServer, add_account, free_socket, login

EVIL = "https://evil.example"
APP = "https://app.example.org"  # allowed by CORS
TEXT = {"Content-Type": "text/plain"}  # no preflight: any page can send this
NEW_ACCOUNT = b'{"userEmail": "made@example.org", "userName": "made"}'


@pytest.fixture
def site(settings_for: SettingsFactory, make_server: MakeServer) -> RunningServer:
    sock = free_socket()
    public = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = make_server(settings_for(public_url=public, cors_origins=APP), sock)
    add_account(server.settings, "root@example.org", superuser=True)
    return server


def token_for(server: RunningServer, who: str = "root@example.org") -> str:
    with server.client() as client:
        return login(client, who)


def cookie(server: RunningServer, token: str) -> dict[str, str]:
    return {"Cookie": f"{server.settings.session_cookie_name}={token}"}


def still_signed_in(server: RunningServer, token: str) -> bool:
    with server.client() as client:
        return client.get("/auth/profile", headers={"X-Session-Token": token}).status_code == 200


def assert_refused(answer: RawAnswer) -> None:
    assert answer.status, answer.body
    assert answer.status == 403, answer.body
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["status"] == "FAIL"
    assert "another site" in body["log"]["message"]


@pytest.mark.parametrize(
    "browser",
    [
        {"Origin": EVIL},
        {"Origin": "null"},  # a sandboxed frame, a data: page
        {"Origin": EVIL, "Sec-Fetch-Site": "same-origin"},  # Origin decides when present
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # a sibling subdomain is another origin
        {},  # neither: no browser of the last years sends a POST so
    ],
)
def test_a_cross_site_post_with_the_cookie_is_403(
    site: RunningServer, browser: dict[str, str]
) -> None:
    token = token_for(site)
    headers = {**cookie(site, token), **TEXT, **browser}
    made = raw_request(site.url, "POST", "/auth/check-registration", headers, NEW_ACCOUNT)
    ended = raw_request(site.url, "POST", "/auth/logout/all", headers)
    assert_refused(made)
    assert_refused(ended)
    assert still_signed_in(site, token)
    answer = raw_request(
        site.url, "GET", "/auth/admin/users/made@example.org/sessions", {"X-Session-Token": token}
    )
    assert answer.status == 404, answer.body  # no account was made


def test_every_state_changing_route_refuses_a_cross_site_cookie(site: RunningServer) -> None:
    token = token_for(site)
    headers = {**cookie(site, token), **TEXT, "Origin": EVIL}
    for method, path in [
        ("DELETE", "/auth/sessions/some-id"),
        ("POST", "/auth/logout"),
        ("POST", "/auth/admin/users/root@example.org/logout-all"),
        ("DELETE", "/auth/admin/users/root@example.org/sessions/some-id"),
    ]:
        assert_refused(raw_request(site.url, method, path, headers))
    assert still_signed_in(site, token)


@pytest.mark.parametrize(
    "browser",
    [
        {"Origin": "SELF"},
        {"Origin": APP},
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},
    ],
)
def test_this_service_and_allowed_origins_may_use_the_cookie(
    site: RunningServer, browser: dict[str, str]
) -> None:
    token = token_for(site)
    browser = {k: site.url if v == "SELF" else v for k, v in browser.items()}
    headers = {**cookie(site, token), "Content-Type": "application/json", **browser}
    made = raw_request(site.url, "POST", "/auth/check-registration", headers, NEW_ACCOUNT)
    assert made.status == 200, made.body
    ended = raw_request(site.url, "POST", "/auth/logout/all", headers)
    assert ended.status == 200, ended.body
    assert not still_signed_in(site, token)


def test_the_header_token_is_not_affected(site: RunningServer) -> None:
    token = token_for(site)
    headers = {"X-Session-Token": token, **TEXT, "Origin": EVIL}
    made = raw_request(site.url, "POST", "/auth/check-registration", headers, NEW_ACCOUNT)
    assert made.status == 200, made.body
    assert raw_request(site.url, "POST", "/auth/logout/all", headers).status == 200


def test_reading_with_the_cookie_from_anywhere_still_works(site: RunningServer) -> None:
    # A GET changes nothing, and CORS decides whether the foreign page may read it.
    token = token_for(site)
    headers = {**cookie(site, token), "Origin": EVIL}
    assert raw_request(site.url, "GET", "/auth/sessions", headers).status == 200
    assert raw_request(site.url, "GET", "/auth/profile", headers).status == 200
