"""The client address: the socket's, unless the peer is a configured trusted proxy."""

from __future__ import annotations

import httpx

from tests.conftest import MakeServer, SettingsFactory
from tests.support import RunningServer, add_account, login


def address_seen(server: RunningServer, forwarded: str) -> str:
    """Sign in with an X-Forwarded-For header; the address the session was recorded with."""
    with server.client(headers={"X-Forwarded-For": forwarded}) as client:
        token = login(client, "ann@example.org")
        listed = client.get("/auth/sessions", headers={"X-Session-Token": token}).json()
    return str(next(s["clientAddress"] for s in listed if s["current"]))


def start(
    settings_for: SettingsFactory, make_server: MakeServer, **options: object
) -> RunningServer:
    settings = settings_for(**options)
    add_account(settings, "ann@example.org")
    return make_server(settings)


def test_spoofed_header_is_ignored_without_a_trusted_proxy(
    settings_for: SettingsFactory, make_server: MakeServer
) -> None:
    server = start(settings_for, make_server, rate_limit_login="2/hour")
    assert address_seen(server, "203.0.113.7") == "127.0.0.1"
    # Nor does a fresh spoofed address buy a fresh budget (one of two spent above).
    statuses = []
    for spoofed in ("198.51.100.98", "198.51.100.99"):
        with server.client(headers={"X-Forwarded-For": spoofed}) as client:
            statuses.append(client.post("/auth/login", json={"login": "x", "password": "y"}))
    assert [answer.status_code for answer in statuses] == [401, 429]


def test_the_right_most_untrusted_entry_behind_a_trusted_proxy(
    settings_for: SettingsFactory, make_server: MakeServer
) -> None:
    server = start(settings_for, make_server, trusted_proxies="127.0.0.1")
    assert address_seen(server, "198.51.100.1, 203.0.113.7") == "203.0.113.7"
    assert address_seen(server, "not-an-address") == "127.0.0.1"


def test_trusted_networks_are_skipped(
    settings_for: SettingsFactory, make_server: MakeServer
) -> None:
    server = start(settings_for, make_server, trusted_proxies="127.0.0.0/8, 203.0.113.0/24")
    assert address_seen(server, "198.51.100.1, 203.0.113.7") == "198.51.100.1"


def test_limits_count_the_forwarded_address_behind_a_trusted_proxy(
    settings_for: SettingsFactory, make_server: MakeServer
) -> None:
    server = start(
        settings_for, make_server, trusted_proxies="127.0.0.1", rate_limit_login="2/hour"
    )

    def attempt(address: str) -> httpx.Response:
        with server.client(headers={"X-Forwarded-For": address}) as client:
            return client.post("/auth/login", json={"login": "x", "password": "y"})

    assert [attempt("203.0.113.7").status_code for _ in range(3)] == [401, 401, 429]
    assert attempt("203.0.113.8").status_code == 401
