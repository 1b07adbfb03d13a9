"""POST /auth/login (and /auth/signin), GET /auth/profile, POST /auth/logout (and /auth/signout)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from portcullis.config import Settings
from tests.conftest import MakeServer, SettingsFactory
from tests.support import PASSWORD, RunningServer, add_account, fail_body, grant, login

BAD_LOGIN = fail_body("Invalid email address or password.")


@pytest.fixture
def account(settings: Settings) -> None:
    add_account(
        settings,
        "Admin_User@Example.org",
        username="admin_user",
        full_name="Admin User",
        superuser=True,
    )
    grant(settings, "admin_user@example.org", "S-BSST1")


class TestLogin:
    def test_seed_curl_call_returns_the_profile(self, server: RunningServer, account: None) -> None:
        # The seed's own call: JSON sent with curl -d, so labelled as a form.
        body = f'{{ "login": "admin_user@example.org", "password": "{PASSWORD}" }}'
        with server.client() as client:
            answer = client.post(
                "/auth/login",
                content=body,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        assert answer.status_code == 200
        profile = answer.json()
        assert profile["sessid"] and len(profile["sessid"]) >= 43
        assert {
            k: v for k, v in profile.items() if k not in ("sessid", "secret", "lastActivity")
        } == {
            "email": "admin_user@example.org",
            "username": "admin_user",
            "fullname": "Admin User",
            "superuser": True,
            "allow": ["admin_user@example.org", "Public", "S-BSST1"],
            "deny": [],
            "aux": {"orcid": ""},
            "orcid": "",
            "uploadType": "nfs",
        }
        assert profile["secret"]
        assert profile["lastActivity"]  # this sign-in
        assert answer.headers["cache-control"] == "no-store"

    @pytest.mark.parametrize(
        "who", ["admin_user", "ADMIN_USER@example.org", " admin_user@example.org "]
    )
    def test_by_username_or_email_in_any_case(
        self, server: RunningServer, account: None, who: str
    ) -> None:
        with server.client() as client:
            answer = client.post("/auth/signin", json={"login": who, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        assert answer.json()["email"] == "admin_user@example.org"

    def test_each_login_makes_its_own_session(self, server: RunningServer, account: None) -> None:
        with server.client() as client:
            first, second = login(client, "admin_user"), login(client, "admin_user")
            assert first != second
            client.post("/auth/logout", json={"sessid": first})
            assert (
                client.get("/auth/profile", headers={"X-Session-Token": first}).status_code == 401
            )
            assert (
                client.get("/auth/profile", headers={"X-Session-Token": second}).status_code == 200
            )

    @pytest.mark.parametrize(
        ("who", "password"),
        [
            ("admin_user", "wrong password!"),
            ("nobody@example.org", PASSWORD),
            ("", ""),
            ("admin_user", "x" * 5000),
        ],
    )
    def test_failures_all_look_alike(
        self, server: RunningServer, account: None, who: str, password: str
    ) -> None:
        with server.client() as client:
            answer = client.post("/auth/login", json={"login": who, "password": password})
        assert answer.status_code == 401
        assert answer.json() == BAD_LOGIN

    def test_inactive_account_fails_like_a_wrong_password(self, server: RunningServer) -> None:
        add_account(server.settings, "pending@example.org", active=False)
        with server.client() as client:
            answer = client.post(
                "/auth/login", json={"login": "pending@example.org", "password": PASSWORD}
            )
        assert answer.status_code == 401
        assert answer.json() == BAD_LOGIN


class TestProfile:
    def test_token_from_header_cookie_or_parameter(
        self, server: RunningServer, account: None
    ) -> None:
        with server.client() as client:
            token = login(client, "admin_user")
        cookie = server.settings.session_cookie_name
        assert cookie == "BIOSTDSESS-PROD"
        for kwargs in (
            {"headers": {"X-SESSION-TOKEN": token}},
            {"headers": {"Cookie": f"{cookie}={token}"}},
            {"params": {"BIOSTDSESS": token}},
        ):
            with server.client() as client:
                answer = client.get("/auth/profile", **kwargs)  # type: ignore[arg-type]
            assert answer.status_code == 200, kwargs
            assert answer.json()["sessid"] == token
            assert answer.json()["lastActivity"]
            assert answer.headers["content-type"] == "application/json"
            assert answer.headers["cache-control"] == "no-store"
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["referrer-policy"] == "no-referrer"

    @pytest.mark.parametrize(
        "headers",
        [
            {},
            {"X-Session-Token": "nonsense"},
            {"X-Session-Token": "x" * 10_000},
            {"X-Session-Token": "ünïcödé".encode()},
            {"X-Session-Token": b"\xff\xfe"},
        ],
    )
    def test_missing_or_bad_token_is_401(
        self, server: RunningServer, headers: dict[str, Any]
    ) -> None:
        with server.client() as client:
            answer = client.get("/auth/profile", headers=headers)
        assert answer.status_code == 401
        assert answer.json()["status"] == "FAIL"


class TestLogout:
    def test_by_sessid_in_body(self, server: RunningServer, account: None) -> None:
        with server.client() as client:
            token = login(client, "admin_user")
            answer = client.post(
                "/auth/logout",
                content=f'{{ "sessid": "{token}" }}',
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert answer.status_code == 200
            assert (
                client.get("/auth/profile", headers={"X-Session-Token": token}).status_code == 401
            )

    def test_by_header_with_signout_alias(self, server: RunningServer, account: None) -> None:
        with server.client() as client:
            token = login(client, "admin_user")
            assert (
                client.post("/auth/signout", headers={"X-Session-Token": token}).status_code == 200
            )
            assert (
                client.get("/auth/profile", headers={"X-Session-Token": token}).status_code == 401
            )

    def test_is_idempotent(self, server: RunningServer) -> None:
        with server.client() as client:
            assert client.post("/auth/logout", json={"sessid": "unknown"}).status_code == 200
            assert client.post("/auth/logout").status_code == 200

    @pytest.mark.parametrize(
        "body",
        [b'{"sessid": 5}', b'{"sessid":', b'{"sessid": "' + b"x" * 2000 + b'"}', b"[1]", b"\xff"],
    )
    def test_a_body_it_cannot_read_is_still_200_and_ends_the_header_token(
        self, server: RunningServer, account: None, body: bytes
    ) -> None:
        # The real service's logout has no error answer; its clients expect none.
        with server.client() as client:
            other = login(client, "admin_user")
            token = login(client, "admin_user")
            answer = client.post("/auth/logout", content=body, headers={"X-Session-Token": token})
            assert (answer.status_code, answer.content) == (200, b"")
            ended = client.get("/auth/profile", headers={"X-Session-Token": token})
            kept = client.get("/auth/profile", headers={"X-Session-Token": other})
        assert ended.status_code == 401
        assert kept.status_code == 200


class TestLifetimes:
    def test_a_session_in_steady_use_outlives_a_short_idle_limit(
        self, settings_for: SettingsFactory, make_server: MakeServer
    ) -> None:
        server = make_server(settings_for(session_idle_seconds=3))
        add_account(server.settings, "steady@example.org")
        with server.client() as client:
            token = {"X-Session-Token": login(client, "steady@example.org")}
            for _ in range(10):  # 5 s of use, every half second, against 3 s of idle
                time.sleep(0.5)
                assert client.get("/auth/profile", headers=token).status_code == 200
            time.sleep(3.5)
            assert client.get("/auth/profile", headers=token).status_code == 401

    def test_a_session_ends_at_its_absolute_lifetime_however_used(
        self, settings_for: SettingsFactory, make_server: MakeServer
    ) -> None:
        server = make_server(settings_for(session_lifetime_seconds=2))
        add_account(server.settings, "brief@example.org")
        with server.client() as client:
            token = {"X-Session-Token": login(client, "brief@example.org")}
            assert client.get("/auth/profile", headers=token).status_code == 200
            time.sleep(1)
            assert client.get("/auth/profile", headers=token).status_code == 200
            time.sleep(1.5)
            assert client.get("/auth/profile", headers=token).status_code == 401


def test_a_token_check_whose_activity_write_fails_is_503_not_500(
    server: RunningServer, account: None
) -> None:
    import asyncio
    import sqlite3

    from sqlalchemy import update

    from portcullis.services import build_services
    from portcullis.storage.tables import sessions as sessions_table

    if not server.settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock; PostgreSQL's lost connections: test_database_faults")
    with server.client() as client:
        token = login(client, "admin_user")  # and the hot path's writer connection is open

    async def last_seen_long_ago() -> None:
        services = build_services(server.settings)
        async with services.engine.begin() as db:
            await db.execute(
                update(sessions_table).values(last_seen_at=sessions_table.c.last_seen_at - 600)
            )
        await services.close()

    asyncio.run(last_seen_long_ago())  # so this check records activity, a write

    hot_path = server.app.state.services.hot_path
    hot_path._writer.execute("PRAGMA busy_timeout = 200")  # not 30 s, for the test's sake
    other_writer = sqlite3.connect(server.settings.database_url.removeprefix("sqlite:///"))
    other_writer.isolation_level = None
    other_writer.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        with server.client() as client:
            answer = client.get("/auth/profile", headers={"X-Session-Token": token})
    finally:
        other_writer.execute("ROLLBACK")
        other_writer.close()
    assert answer.status_code == 503
    assert answer.json() == fail_body("The service is temporarily unavailable.")
    assert answer.headers["cache-control"] == "no-store"
