""" "Log in as": a superuser's own session token sent as a user's password."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from portcullis.core.validation import MAX_LOGIN_LENGTH
from portcullis.services import build_services
from tests.conftest import MakeServer, SettingsFactory
from tests.support import (
    PASSWORD,
    RunningServer,
    add_account,
    audit_rows,
    fail_body,
    login,
)

BAD_LOGIN = fail_body("Invalid email address or password.")
THRESHOLD = 3


def log_in_as(server: RunningServer, who: str, token: str) -> tuple[int, dict[str, object]]:
    with server.client() as client:
        answer = client.post("/auth/login", json={"login": who, "password": token})
    return answer.status_code, answer.json()


def people(server: RunningServer) -> tuple[int, int, str]:
    """Ann (a user), root and boss (superusers); root's session token."""
    ann = add_account(server.settings, "ann@example.org").id
    root = add_account(server.settings, "root@example.org", superuser=True).id
    add_account(server.settings, "boss@example.org", superuser=True)
    with server.client() as client:
        token = login(client, "root@example.org")
    return ann, root, token


@pytest.fixture
def impersonating(settings_for: SettingsFactory, make_server: MakeServer) -> RunningServer:
    return make_server(
        settings_for(
            impersonation=True,
            login_lockout_threshold=THRESHOLD,
            rate_limit_login="1000/minute",
        )
    )


class TestWithTheSettingOn:
    def test_opens_a_session_of_the_user_for_at_most_an_hour(
        self, impersonating: RunningServer
    ) -> None:
        _, _, token = people(impersonating)
        status, profile = log_in_as(impersonating, "ann@example.org", token)
        assert status == 200
        assert profile["email"] == "ann@example.org"
        assert profile["superuser"] is False
        user_token = str(profile["sessid"])
        assert user_token != token
        with impersonating.client() as client:
            sessions = client.get("/auth/sessions", headers={"X-Session-Token": user_token})
        [session] = sessions.json()
        assert session["openedBy"] == "root@example.org"
        lasts = datetime.fromisoformat(session["expires"]) - datetime.fromisoformat(
            session["created"]
        )
        assert lasts.total_seconds() <= 3600

    def test_the_account_page_says_who_opened_the_session(
        self, impersonating: RunningServer
    ) -> None:
        people(impersonating)
        _, profile = log_in_as(impersonating, "ann@example.org", _root_token(impersonating))
        with impersonating.client(cookies={"portcullis-session": str(profile["sessid"])}) as page:
            answer = page.get("/account/profile")
        assert answer.status_code == 200
        assert "Opened on your behalf by root@example.org" in answer.text

    def test_is_audited_as_impersonation_never_as_a_login_of_the_user(
        self, impersonating: RunningServer
    ) -> None:
        ann, root, token = people(impersonating)
        assert log_in_as(impersonating, "ann@example.org", token)[0] == 200
        rows = [r for r in audit_rows(impersonating.settings) if r["account_id"] == ann]
        assert [
            (r["kind"], r["actor_id"], r["detail"]) for r in rows if r["kind"] != "admin_action"
        ] == [("impersonation", root, "opened")]

    @pytest.mark.parametrize(
        ("who", "why"),
        [
            ("boss@example.org", "refused_superuser"),
            ("pending@example.org", "refused_inactive"),
            ("gone@example.org", "refused_inactive"),
            ("ghost@example.org", "refused_unknown_account"),
        ],
    )
    def test_refused_for_superusers_and_accounts_that_cannot_sign_in(
        self, impersonating: RunningServer, who: str, why: str
    ) -> None:
        _, root, token = people(impersonating)
        add_account(impersonating.settings, "pending@example.org", active=False)
        add_account(impersonating.settings, "gone@example.org")
        _deactivate(impersonating, "gone@example.org")
        answers = [log_in_as(impersonating, who, token) for _ in range(THRESHOLD + 2)]
        assert answers == [(401, BAD_LOGIN)] * (THRESHOLD + 2)
        kinds = [
            (r["kind"], r["actor_id"], r["detail"]) for r in audit_rows(impersonating.settings)
        ]
        assert ("impersonation", root, why) in kinds
        assert not any(kind == "login_failed" for kind, _, _ in kinds)

    def test_refusals_never_hold_the_account_back(self, impersonating: RunningServer) -> None:
        _, _, token = people(impersonating)
        for _ in range(THRESHOLD + 2):
            assert log_in_as(impersonating, "boss@example.org", token)[0] == 401
        with impersonating.client() as client:
            assert login(client, "boss@example.org")  # its own password, at once

    def test_a_plain_users_token_is_only_a_wrong_password(
        self, impersonating: RunningServer
    ) -> None:
        ann, _, _ = people(impersonating)
        add_account(impersonating.settings, "bob@example.org")
        with impersonating.client() as client:
            bob_token = login(client, "bob@example.org")
        assert log_in_as(impersonating, "ann@example.org", bob_token) == (401, BAD_LOGIN)
        failed = [r for r in audit_rows(impersonating.settings) if r["kind"] == "login_failed"]
        assert [(r["account_id"], r["detail"]) for r in failed] == [(ann, "bad_password")]

    def test_an_ended_superuser_session_opens_nothing(self, impersonating: RunningServer) -> None:
        _, _, token = people(impersonating)
        with impersonating.client() as client:
            client.post("/auth/logout", json={"sessid": token})
        assert log_in_as(impersonating, "ann@example.org", token) == (401, BAD_LOGIN)

    def test_a_login_name_over_254_characters_is_refused_first(
        self, impersonating: RunningServer
    ) -> None:
        _, _, token = people(impersonating)
        status, body = log_in_as(impersonating, "n" * (MAX_LOGIN_LENGTH + 1), token)
        assert status == 400
        assert body["status"] == "FAIL"
        assert f"The login name must be at most {MAX_LOGIN_LENGTH} characters" in str(body)
        kinds = {r["kind"] for r in audit_rows(impersonating.settings)}
        assert not kinds & {"impersonation", "login_failed"}

    def test_the_users_own_password_still_works(self, impersonating: RunningServer) -> None:
        people(impersonating)
        with impersonating.client() as client:
            assert login(client, "ann@example.org", PASSWORD)


def test_with_the_setting_off_it_is_an_ordinary_failed_login(server: RunningServer) -> None:
    ann, _, token = people(server)
    assert log_in_as(server, "ann@example.org", token) == (401, BAD_LOGIN)
    rows = audit_rows(server.settings)
    failed = [(r["kind"], r["account_id"], r["detail"]) for r in rows if r["account_id"] == ann]
    assert ("login_failed", ann, "bad_password") in failed
    assert not any(r["kind"] == "impersonation" for r in rows)


def _root_token(server: RunningServer) -> str:
    with server.client() as client:
        return login(client, "root@example.org")


def _deactivate(server: RunningServer, email: str) -> None:
    async def run() -> None:
        services = build_services(server.settings)
        try:
            await services.admin.deactivate(email)
        finally:
            await services.close()

    asyncio.run(run())
