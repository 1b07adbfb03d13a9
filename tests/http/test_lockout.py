"""Per-account lockout with exponential backoff, through both dialects.

Holds are configured in whole seconds (1 s doubling to 2 s) so the backoff can be
watched growing and ending; the tests wait for a hold to end, they never time answers.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
import pytest

from tests.conftest import MakeServer, SettingsFactory
from tests.support import (
    PASSWORD,
    RunningServer,
    add_account,
    audit_rows,
    fail_body,
    wrong_logins,
)

LOCKED = fail_body("Too many attempts. Try again later.")
BAD_LOGIN = fail_body("Invalid email address or password.")


def right_login(client: httpx.Client, who: str) -> httpx.Response:
    return client.post("/auth/login", json={"login": who, "password": PASSWORD})


def wait_out(answer: httpx.Response) -> None:
    time.sleep(int(answer.headers["retry-after"]) + 0.2)


@pytest.fixture
def lockout_server(settings_for: SettingsFactory, make_server: MakeServer) -> RunningServer:
    settings = settings_for(
        login_lockout_threshold=3,
        login_lockout_base_seconds=1,
        login_lockout_max_seconds=2,
        rate_limit_login="1000/minute",
    )
    add_account(settings, "known@example.org", username="known")
    return make_server(settings)


class TestLockout:
    def test_known_and_unknown_accounts_are_held_back_alike(
        self, lockout_server: RunningServer
    ) -> None:
        seen: list[list[tuple[int, Any, str | None]]] = []
        with lockout_server.client() as client:
            for who in ("known@example.org", "nobody@example.org"):
                answers = [*wrong_logins(client, who, 3), right_login(client, who)]
                seen.append(
                    [(a.status_code, a.json(), a.headers.get("retry-after")) for a in answers]
                )
        assert seen[0] == seen[1]
        assert [status for status, _, _ in seen[0]] == [401, 401, 401, 429]
        assert seen[0][2][1] == BAD_LOGIN
        assert seen[0][3][1:] == (LOCKED, "1")

    def test_the_right_password_is_refused_while_held_back(
        self, lockout_server: RunningServer
    ) -> None:
        with lockout_server.client() as client:
            wrong_logins(client, "known", 3)
            held = right_login(client, "known")
            assert held.status_code == 429
            assert held.headers["cache-control"] == "no-store"
            assert "sessid" not in held.text
            # By e-mail, in any case, it is the same account and the same hold.
            assert right_login(client, "KNOWN@example.org").status_code == 429

    def test_the_backoff_doubles_up_to_the_cap(self, lockout_server: RunningServer) -> None:
        with lockout_server.client() as client:
            wrong_logins(client, "known", 3)
            first = right_login(client, "known")
            assert (first.status_code, first.headers["retry-after"]) == (429, "1")
            wait_out(first)
            assert wrong_logins(client, "known", 1)[0].status_code == 401
            second = right_login(client, "known")
            assert (second.status_code, second.headers["retry-after"]) == (429, "2")
            wait_out(second)
            wrong_logins(client, "known", 1)
            capped = right_login(client, "known")
            assert (capped.status_code, capped.headers["retry-after"]) == (429, "2")

    def test_a_success_after_the_hold_starts_the_count_over(
        self, lockout_server: RunningServer
    ) -> None:
        with lockout_server.client() as client:
            wrong_logins(client, "known", 3)
            wait_out(right_login(client, "known"))
            assert right_login(client, "known").status_code == 200
            # A fresh streak: two failures are below the threshold again.
            assert [a.status_code for a in wrong_logins(client, "known", 2)] == [401, 401]
            assert right_login(client, "known").status_code == 200

    def test_the_track_hub_login_shares_the_hold_and_answers_in_its_format(
        self, lockout_server: RunningServer
    ) -> None:
        basic = base64.b64encode(f"known:{PASSWORD}".encode()).decode()
        with lockout_server.client() as client:
            wrong_logins(client, "known", 3)
            answer = client.get("/api/login", headers={"Authorization": f"Basic {basic}"})
        assert answer.status_code == 429
        assert answer.json() == {"error": "Too many attempts. Try again later."}
        assert answer.headers["retry-after"] == "1"

    def test_track_hub_failures_count_for_the_biostudies_login(
        self, lockout_server: RunningServer
    ) -> None:
        with lockout_server.client() as client:
            for _ in range(3):
                answer = client.post(
                    "/api/login", data={"username": "known", "password": "not it at all"}
                )
                assert answer.status_code == 401
            assert right_login(client, "known@example.org").status_code == 429


def test_never_more_than_the_daily_failures(
    settings_for: SettingsFactory, make_server: MakeServer
) -> None:
    settings = settings_for(
        login_lockout_threshold=50, login_lockout_daily_failures=3, rate_limit_login="1000/minute"
    )
    add_account(settings, "known@example.org")
    server = make_server(settings)
    with server.client() as client:
        assert [a.status_code for a in wrong_logins(client, "known@example.org", 3)] == [401] * 3
        held = right_login(client, "known@example.org")
    assert held.status_code == 429
    assert 3600 < int(held.headers["retry-after"]) <= 24 * 3600
    # The audit trail logs that lockout with the hold it really is, not a streak's.
    [started] = [row for row in audit_rows(settings) if row["kind"] == "lockout_started"]
    held_for = int(started["detail"].removesuffix("s"))
    assert abs(held_for - int(held.headers["retry-after"])) <= 5
