"""Per-client-address limits, per-address-per-account reset limits, and a shared Redis budget."""

from __future__ import annotations

from contextlib import closing
from urllib.parse import urlsplit

import httpx
import pytest
import redis

from tests.conftest import REDIS_URL, MakeServer, SettingsFactory
from tests.support import PASSWORD, TcpRelay, add_account, fail_body, wrong_logins

TOO_MANY = fail_body("Too many attempts. Try again later.")
UNAVAILABLE = fail_body("The service is temporarily unavailable.")


def reset(client: httpx.Client, email: str) -> httpx.Response:
    return client.post(
        "/auth/password/reset", json={"email": email, "instanceKey": "default", "path": "reset"}
    )


def assert_too_many(answer: httpx.Response) -> None:
    assert answer.status_code == 429, answer.text
    assert answer.json() == TOO_MANY
    assert int(answer.headers["retry-after"]) > 0


class TestPerAddress:
    def test_login_attempts_from_one_address_are_limited_across_names(
        self, settings_for: SettingsFactory, make_server: MakeServer
    ) -> None:
        server = make_server(settings_for(rate_limit_login="3/hour"))
        with server.client() as client:
            answers = [wrong_logins(client, f"user{n}@example.org", 1)[0] for n in range(4)]
            trackhub = client.post("/api/login", data={"username": "x", "password": "y"})
        assert [a.status_code for a in answers[:3]] == [401] * 3
        assert_too_many(answers[3])
        # The other dialect spends the same budget and answers in its own format.
        assert trackhub.status_code == 429
        assert trackhub.json() == {"error": "Too many attempts. Try again later."}

    @pytest.mark.parametrize("prefix", ["/api", "/api/user"])
    def test_the_registrys_account_views_spend_the_same_budgets(
        self, settings_for: SettingsFactory, make_server: MakeServer, prefix: str
    ) -> None:
        server = make_server(
            settings_for(
                rate_limit_register="1/hour", rate_limit_mail="1/hour", rate_limit_key="1/hour"
            )
        )
        body = {
            "email": "new@example.org",
            "username": "newbie",
            "password": PASSWORD,
            "password2": PASSWORD,
            "check_interval": "automatic",
        }
        with server.client() as client:
            registered = [client.post(f"{prefix}/register", data=body) for _ in range(2)]
            resets = [
                client.post(f"{prefix}/reset_password_email", data={"email": "new@example.org"})
                for _ in range(2)
            ]
            keys = [
                client.get(f"{prefix}/email_verification", params={"token": "x"}) for _ in range(2)
            ]
        for first, held in (registered, resets, keys):
            assert first.status_code != 429, first.text
            assert held.status_code == 429, held.text
            assert held.json() == {"error": "Too many attempts. Try again later."}
            assert int(held.headers["retry-after"]) > 0

    def test_registration(self, settings_for: SettingsFactory, make_server: MakeServer) -> None:
        server = make_server(settings_for(rate_limit_register="2/hour"))
        with server.client() as client:
            answers = [
                client.post(
                    "/auth/register",
                    json={
                        "email": f"new{n}@example.org",
                        "password": PASSWORD,
                        "name": "New",
                        "instanceKey": "default",
                        "path": "activate",
                    },
                )
                for n in range(3)
            ]
        assert [a.status_code for a in answers[:2]] == [201, 201]
        assert_too_many(answers[2])

    @pytest.mark.parametrize("path", ["/auth/password/reset", "/auth/retryact", "/auth/activate"])
    def test_mail_endpoints(
        self, settings_for: SettingsFactory, make_server: MakeServer, path: str
    ) -> None:
        server = make_server(settings_for(rate_limit_mail="2/hour"))
        body = {"instanceKey": "default", "path": "x"}
        with server.client() as client:
            answers = [
                client.post(path, json={**body, "email": f"m{n}@example.org"}) for n in range(3)
            ]
        assert [a.status_code for a in answers[:2]] == [200, 200]
        assert_too_many(answers[2])

    def test_key_endpoints(self, settings_for: SettingsFactory, make_server: MakeServer) -> None:
        server = make_server(settings_for(rate_limit_key="2/hour"))
        with server.client() as client:
            answers = [client.post(f"/auth/activate/guess{n}") for n in range(2)]
            answers.append(
                client.post(
                    "/auth/password/change", json={"activationKey": "guess", "password": PASSWORD}
                )
            )
        assert [a.status_code for a in answers[:2]] == [400, 400]
        assert_too_many(answers[2])


def test_reset_mails_per_address_and_account(
    settings_for: SettingsFactory, make_server: MakeServer
) -> None:
    settings = settings_for(rate_limit_reset_per_account="2/hour")
    add_account(settings, "known@example.org")
    server = make_server(settings)
    with server.client() as client:
        known = [reset(client, "known@example.org") for _ in range(3)]
        unknown = [reset(client, "nobody@example.org") for _ in range(3)]
        other = reset(client, "other@example.org")
    # Known and unknown addresses are limited alike, so the limit tells nothing.
    for answers in (known, unknown):
        assert [a.status_code for a in answers[:2]] == [200, 200]
        assert_too_many(answers[2])
    assert other.status_code == 200
    assert len([m for m in server.mails() if m.to == "known@example.org"]) <= 2


class TestRedis:
    def test_two_instances_share_one_budget(
        self,
        settings_for: SettingsFactory,
        make_server: MakeServer,
        redis_settings: dict[str, str],
    ) -> None:
        settings = settings_for(
            **redis_settings,
            rate_limit_login="4/hour",
            login_lockout_threshold=2,
            login_lockout_base_seconds=60,
        )
        add_account(settings, "known@example.org")
        first, second = make_server(settings), make_server(settings)
        with first.client() as one, second.client() as two:
            # The lockout streak is shared: one failure on each instance locks the account.
            assert wrong_logins(one, "known@example.org", 1)[0].status_code == 401
            assert wrong_logins(two, "known@example.org", 1)[0].status_code == 401
            held = one.post(
                "/auth/login", json={"login": "known@example.org", "password": PASSWORD}
            )
            assert held.status_code == 429
            # So is the address budget: three spent above, the fourth here, the fifth refused.
            assert wrong_logins(two, "other@example.org", 1)[0].status_code == 401
            assert_too_many(wrong_logins(one, "other@example.org", 1)[0])

    def test_a_sign_in_costs_three_commands_in_redis(
        self,
        settings_for: SettingsFactory,
        make_server: MakeServer,
        redis_settings: dict[str, str],
    ) -> None:
        """The rate limit, the lockout's admission and its reset: one command each."""
        prefix = redis_settings["redis_key_prefix"]
        settings = settings_for(**redis_settings)
        add_account(settings, "known@example.org")
        server = make_server(settings)
        login = {"login": "known@example.org", "password": PASSWORD}
        # A timeout, so that a MONITOR that never shows the marker fails instead of hanging.
        watcher = redis.Redis.from_url(REDIS_URL, socket_timeout=10)
        marker = redis.Redis.from_url(REDIS_URL, socket_timeout=10)
        with closing(watcher), closing(marker), server.client() as client:
            assert client.post("/auth/login", json=login).status_code == 200  # loads scripts
            with watcher.monitor() as monitor:
                assert client.post("/auth/login", json=login).status_code == 200
                end = f"end of the sign-in {prefix}"
                marker.echo(end)
                commands = []
                while end not in (seen := monitor.next_command())["command"]:
                    # Commands a Lua script runs are listed too, from a client of their own.
                    if prefix in seen["command"] and seen["client_type"] != "lua":
                        commands.append(seen["command"])
        names = [command.split()[0].upper() for command in commands]
        # The rate limit's script, the lockout's admission (before the hash), its success.
        assert names == ["EVALSHA", "EVALSHA", "EVALSHA"], commands
        account = "account:" + commands[1].split("lockout:hold:account:")[1].split()[0]
        for command in commands[1:]:
            for count in ("hold", "day", "streak"):
                assert f"{prefix}:lockout:{count}:{account}" in command

    def test_down_redis_fails_closed_and_recovers(
        self,
        settings_for: SettingsFactory,
        make_server: MakeServer,
        redis_settings: dict[str, str],
    ) -> None:
        target = urlsplit(REDIS_URL)
        relay = TcpRelay(target.hostname or "127.0.0.1", target.port or 6379)
        settings = settings_for(
            redis_url=f"redis://127.0.0.1:{relay.port}{target.path}",
            redis_key_prefix=redis_settings["redis_key_prefix"],
        )
        add_account(settings, "known@example.org")
        server = make_server(settings)
        login = {"login": "known@example.org", "password": PASSWORD}
        with server.client() as client:
            assert client.post("/auth/login", json=login).status_code == 200
            relay.cut()
            down = client.post("/auth/login", json=login)
            assert down.status_code == 503
            assert down.json() == UNAVAILABLE
            trackhub = client.post("/api/login", data={"username": "known", "password": "x"})
            assert trackhub.status_code == 503
            assert "error" in trackhub.json()
            relay.restore()
            assert client.post("/auth/login", json=login).status_code == 200


def test_unreachable_redis_refuses_sign_in(
    settings_for: SettingsFactory, make_server: MakeServer
) -> None:
    settings = settings_for(redis_url="redis://127.0.0.1:1/0")
    add_account(settings, "known@example.org")
    server = make_server(settings)
    with server.client() as client:
        answer = client.post(
            "/auth/login", json={"login": "known@example.org", "password": PASSWORD}
        )
        profile = client.get("/auth/profile")
    assert answer.status_code == 503
    assert answer.json() == UNAVAILABLE
    assert "sessid" not in answer.text
    # Endpoints that count nothing keep working.
    assert profile.status_code == 401
