"""GET /account/profile, change password, end one session, sign out everywhere."""

from __future__ import annotations

import asyncio
import re
import secrets
import time

import httpx
import pytest
from sqlalchemy import insert

from portcullis.config import Settings
from portcullis.services import build_services
from portcullis.storage.tables import access_tokens
from portcullis.storage.tables import sessions as sessions_table
from tests.support import PASSWORD, RunningServer, add_account, grant
from tests.web.conftest import sign_in, submit

LINUX_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)


@pytest.fixture
def ada(settings: Settings, site: RunningServer) -> None:
    add_account(site.settings, "ada@example.org", username="ada", full_name="Ada Lovelace")
    grant(site.settings, "ada@example.org", "S-BSST1")


def tokens_alive(site: RunningServer, *clients: httpx.Client) -> list[bool]:
    with site.client() as api:
        return [
            api.get(
                "/auth/profile",
                headers={"X-Session-Token": c.cookies.get("portcullis-session", "-")},
            ).status_code
            == 200
            for c in clients
        ]


class TestProfile:
    def test_needs_a_session(self, site: RunningServer) -> None:
        with site.client() as client:
            answer = client.get("/account/profile")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/account/signin"

    def test_shows_the_account_and_its_live_sessions(self, site: RunningServer, ada: None) -> None:
        with (
            site.client(headers={"User-Agent": IPHONE}) as phone,
            site.client(headers={"User-Agent": LINUX_CHROME}) as desk,
        ):
            sign_in(phone, "ada", PASSWORD)
            sign_in(desk, "ada@example.org", PASSWORD)
            page = desk.get("/account/profile")
        assert page.status_code == 200
        for shown in (
            "Ada Lovelace",
            "ada@example.org",
            "S-BSST1",
            "This browser",
            "Chrome on Linux",
            "Mobile Safari on iOS",
            "127.0.0.1",
            "End this session",
            "Sign out everywhere",
        ):
            assert shown in page.text, shown
        assert "Mozilla" not in page.text and "AppleWebKit" not in page.text
        assert page.text.count("End this session") == 2

    def test_end_another_session(self, site: RunningServer, ada: None) -> None:
        with site.client() as phone, site.client() as desk:
            sign_in(phone, "ada", PASSWORD)
            sign_in(desk, "ada", PASSWORD)
            page = desk.get("/account/profile").text
            other = [sid for sid in _session_ids(page) if f"{sid}/end" in page][-1]
            answer = submit(desk, "/account/profile", f"/account/sessions/{other}/end")
            assert answer.headers["location"] == "/account/profile?done=session-ended"
            assert "That session has ended." in desk.get(answer.headers["location"]).text
            assert tokens_alive(site, desk, phone) == [True, False]

    def test_end_this_session_signs_out(self, site: RunningServer, ada: None) -> None:
        with site.client() as desk:
            sign_in(desk, "ada", PASSWORD)
            current = _session_ids(desk.get("/account/profile").text)[0]
            token = desk.cookies["portcullis-session"]
            answer = submit(desk, "/account/profile", f"/account/sessions/{current}/end")
            assert answer.headers["location"] == "/account/signin?done=signed-out"
        with site.client() as api:
            assert api.get("/auth/profile", headers={"X-Session-Token": token}).status_code == 401

    def test_sign_out_everywhere(self, site: RunningServer, ada: None) -> None:
        with site.client() as phone, site.client() as desk:
            sign_in(phone, "ada", PASSWORD)
            sign_in(desk, "ada", PASSWORD)
            phone_token = phone.cookies["portcullis-session"]
            answer = submit(desk, "/account/profile", "/account/sessions/end-all")
            assert answer.headers["location"] == "/account/signin?done=signed-out-everywhere"
            assert "signed out everywhere" in desk.get(answer.headers["location"]).text
            assert phone.get("/account/profile").status_code == 303
        with site.client() as api:
            assert (
                api.get("/auth/profile", headers={"X-Session-Token": phone_token}).status_code
                == 401
            )


class TestChangePassword:
    def test_asks_for_the_current_password(self, site: RunningServer, ada: None) -> None:
        with site.client() as client:
            sign_in(client, "ada", PASSWORD)
            answer = submit(
                client,
                "/account/profile",
                "/account/profile/password",
                current_password="wrong one!",
                new_password="a fresh passphrase",
            )
        assert answer.status_code == 401
        assert "The current password is wrong." in answer.text
        assert "Ada Lovelace" in answer.text

    def test_lists_every_failed_rule(self, site: RunningServer, ada: None) -> None:
        with site.client() as client:
            sign_in(client, "ada", PASSWORD)
            answer = submit(
                client,
                "/account/profile",
                "/account/profile/password",
                current_password=PASSWORD,
                new_password="qwerty",
            )
        assert answer.status_code == 400
        assert "at least 8 characters" in answer.text and "too common" in answer.text

    def test_then_signed_out_everywhere(self, site: RunningServer, ada: None) -> None:
        with site.client() as phone, site.client() as desk:
            sign_in(phone, "ada", PASSWORD)
            sign_in(desk, "ada", PASSWORD)
            answer = submit(
                desk,
                "/account/profile",
                "/account/profile/password",
                current_password=PASSWORD,
                new_password="a fresh passphrase",
            )
            assert answer.headers["location"] == "/account/signin?done=password-changed"
            assert tokens_alive(site, desk, phone) == [False, False]
            sign_in(desk, "ada", "a fresh passphrase")


def _session_ids(page: str) -> list[str]:
    return re.findall(r'action="/account/sessions/([^/"]+)/end"', page)


class TestManySessionsAndTokens:
    """An account a script signs in for every job: the page shows the newest, not all."""

    def test_the_newest_are_shown_this_browser_always_and_the_rest_said(
        self, site: RunningServer
    ) -> None:
        account = add_account(site.settings, "busy@example.org", username="busy")
        with site.client(headers={"User-Agent": LINUX_CHROME}) as browser:
            sign_in(browser, "busy", PASSWORD)
            # Newer than this browser's own: it would not be among the newest hundred.
            _insert_rows(site.settings, account.id, sessions=130, tokens=101)
            page = browser.get("/account/profile")
        assert page.status_code == 200
        assert page.text.count("End this session") == 100 + 1
        assert "This browser" in page.text
        assert "Only the newest 100 sessions are shown" in page.text
        assert page.text.count("/revoke") == 100
        assert "Only the newest 100 tokens are shown" in page.text

    def test_a_few_are_all_shown_and_nothing_is_said(self, site: RunningServer) -> None:
        account = add_account(site.settings, "calm@example.org", username="calm")
        with site.client() as browser:
            sign_in(browser, "calm", PASSWORD)
            _insert_rows(site.settings, account.id, sessions=3, tokens=2)
            page = browser.get("/account/profile").text
        assert page.count("End this session") == 4
        assert page.count("/revoke") == 2
        assert "Only the newest" not in page


def _insert_rows(settings: Settings, account_id: int, *, sessions: int, tokens: int) -> None:
    now = int(time.time())
    session_rows = [
        {
            "id": secrets.token_hex(12),
            "token_hash": secrets.token_bytes(32),
            "account_id": account_id,
            "created_at": now + 60 + n,
            "last_seen_at": now,
            "expires_at": now + 86400,
            "client_address": "192.0.2.7",
            "user_agent": "job-runner/1",
            "opened_by": None,
            "api_token": False,
        }
        for n in range(sessions)
    ]
    token_rows = [
        {
            "id": secrets.token_hex(8),
            "token_hash": secrets.token_bytes(32),
            "account_id": account_id,
            "kind": "personal",
            "name": f"job {n}",
            "scope": "read",
            "created_at": now - n,
            "expires_at": now + 86400,
            "last_used_at": None,
        }
        for n in range(tokens)
    ]

    async def write() -> None:
        services = build_services(settings)
        try:
            async with services.engine.begin() as connection:
                await connection.execute(insert(sessions_table), session_rows)
                await connection.execute(insert(access_tokens), token_rows)
        finally:
            await services.close()

    asyncio.run(write())
