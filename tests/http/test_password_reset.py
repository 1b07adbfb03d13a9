"""POST /auth/password/reset and POST /auth/password/change."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.conftest import SettingsFactory
from tests.support import PASSWORD, RunningServer, add_account, fail_body, login

NEW_PASSWORD = "a completely new passphrase"
BAD_KEY = fail_body("Could not find an un-active user with the provided activation key.")


def reset(client: httpx.Client, email: str, **extra: str) -> httpx.Response:
    return client.post(
        "/auth/password/reset",
        json={"email": email, "instanceKey": "default", "path": "password/reset", **extra},
    )


def change(client: httpx.Client, key: str, password: str = NEW_PASSWORD) -> httpx.Response:
    return client.post("/auth/password/change", json={"activationKey": key, "password": password})


class TestReset:
    def test_full_flow_ends_sessions_and_tells_the_owner(self, server: RunningServer) -> None:
        account = add_account(server.settings, "reset@example.org", full_name="Re Set")
        with server.client() as client:
            token = login(client, "reset@example.org")
            answer = reset(client, "Reset@Example.org")
            assert (answer.status_code, answer.content) == (200, b"")
            mail = server.wait_for_mail("reset@example.org", "Password Reset")
            assert mail.subject == "Portcullis Account Password Reset"
            assert mail.link == f"http://127.0.0.1:8000/account/password/reset/{mail.key}"

            changed = change(client, mail.key)
            assert changed.status_code == 200
            assert changed.json() == {
                "id": account.id,
                "email": "reset@example.org",
                "secretKey": account.secret,
                "fullName": "Re Set",
                "notificationsEnabled": False,
            }
            assert "sessid" not in changed.text  # no automatic login
            assert (
                client.get("/auth/profile", headers={"X-Session-Token": token}).status_code == 401
            )
            assert (
                client.post(
                    "/auth/login", json={"login": "reset@example.org", "password": PASSWORD}
                ).status_code
                == 401
            )
            assert login(client, "reset@example.org", NEW_PASSWORD)
            notice = server.wait_for_mail("reset@example.org", "Password Changed")
            assert "signed out" in notice.text

            reused = change(client, mail.key, "yet another passphrase")
        assert reused.status_code == 400
        assert reused.json() == BAD_KEY

    def test_unknown_address_gets_the_same_answer_in_the_same_time(
        self, server: RunningServer
    ) -> None:
        add_account(server.settings, "known@example.org")
        seen = []
        with server.client() as client:
            for address in ("known@example.org", "unknown@example.org"):
                started = time.monotonic()
                answer = reset(client, address)
                seen.append((answer.status_code, answer.content, dict(answer.headers).keys()))
                # Both answers are stretched to the same floor, whatever the lookup found.
                assert time.monotonic() - started >= 0.25
        assert seen[0][:2] == seen[1][:2] == (200, b"")
        assert set(seen[0][2]) - {"date"} == set(seen[1][2]) - {"date"}
        server.wait_for_mail("known@example.org", "Password Reset")
        time.sleep(0.3)
        assert [m.to for m in server.mails()] == ["known@example.org"]

    def test_a_new_key_voids_the_older(self, server: RunningServer) -> None:
        add_account(server.settings, "twice@example.org")
        with server.client() as client:
            reset(client, "twice@example.org")
            first = server.wait_for_mail("twice@example.org")
            reset(client, "twice@example.org")
            second = server.wait_for_mail("twice@example.org")
            assert change(client, first.key).json() == BAD_KEY
            assert change(client, second.key).status_code == 200

    def test_a_rejected_password_keeps_the_key_usable(self, server: RunningServer) -> None:
        add_account(server.settings, "weak@example.org", username="weakling")
        with server.client() as client:
            reset(client, "weak@example.org")
            mail = server.wait_for_mail("weak@example.org")
            refused = change(client, mail.key, "weakling1")
            assert refused.status_code == 400
            messages = [n["message"] for n in refused.json()["log"]["subnodes"]]
            assert any("username" in m for m in messages)
            assert change(client, mail.key).status_code == 200

    def test_reset_activates_a_pending_account(self, server: RunningServer) -> None:
        add_account(server.settings, "pending@example.org", active=False)
        with server.client() as client:
            reset(client, "pending@example.org")
            mail = server.wait_for_mail("pending@example.org", "Reset")
            assert change(client, mail.key).status_code == 200
            assert login(client, "pending@example.org", NEW_PASSWORD)

    def test_disabled_accounts_get_no_mail(self, server: RunningServer) -> None:
        import asyncio as _asyncio

        from portcullis.services import build_services

        add_account(server.settings, "off@example.org")

        async def disable() -> None:
            services = build_services(server.settings)
            await services.admin.deactivate("off@example.org")
            await services.close()

        _asyncio.run(disable())
        with server.client() as client:
            assert reset(client, "off@example.org").status_code == 200
        time.sleep(0.5)
        assert server.mails() == []

    def test_activation_keys_do_not_change_passwords(self, server: RunningServer) -> None:
        with server.client() as client:
            client.post(
                "/auth/register",
                json={
                    "name": "A",
                    "email": "act@example.org",
                    "password": PASSWORD,
                    "instanceKey": "default",
                    "path": "a",
                },
            )
            mail = server.wait_for_mail("act@example.org", "Activation")
            assert change(client, mail.key).json() == BAD_KEY

    def test_unknown_key_and_absurd_keys(self, server: RunningServer) -> None:
        with server.client() as client:
            for key in ("nope", "x" * 1000, "../../etc/passwd"):
                answer = change(client, key)
                assert answer.status_code == 400, key
            assert client.post("/auth/activate/" + "k" * 2000).status_code == 400


def test_reset_key_expires(settings_for: SettingsFactory, make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(settings_for(reset_key_lifetime_seconds=1))
    add_account(server.settings, "late@example.org")
    with server.client() as client:
        reset(client, "late@example.org")
        mail = server.wait_for_mail("late@example.org")
        time.sleep(2.1)
        assert change(client, mail.key).json() == BAD_KEY


def test_racing_uses_of_one_key_let_exactly_one_win(server: RunningServer) -> None:
    add_account(server.settings, "race@example.org")
    with server.client() as client:
        reset(client, "race@example.org")
    key = server.wait_for_mail("race@example.org").key

    async def race() -> list[int]:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            answers = await asyncio.gather(
                *[
                    client.post(
                        "/auth/password/change",
                        json={"activationKey": key, "password": f"sprinter {i} crosses first"},
                    )
                    for i in range(8)
                ]
            )
        return sorted(a.status_code for a in answers)

    assert asyncio.run(race()) == [200] + [400] * 7


class TestCheckRegistration:
    def test_superuser_gets_or_creates_the_account(self, server: RunningServer) -> None:
        add_account(server.settings, "root@example.org", superuser=True)
        existing = add_account(server.settings, "someone@example.org", full_name="Some One")
        with server.client() as client:
            token = login(client, "root@example.org")
            headers = {"X-Session-Token": token}
            found = client.post(
                "/auth/check-registration",
                headers=headers,
                json={"userEmail": "someone@example.org", "userName": "x"},
            )
            assert found.status_code == 200
            assert found.json()["id"] == existing.id
            made = client.post(
                "/auth/check-registration",
                headers=headers,
                json={"userEmail": "New@Example.org", "userName": "New Person"},
            )
            assert made.status_code == 200
            assert made.json()["email"] == "new@example.org"
            assert made.json()["active"] is False

    def test_anyone_else_is_refused(self, server: RunningServer) -> None:
        add_account(server.settings, "plain@example.org")
        body = {"userEmail": "plain@example.org", "userName": "x"}
        with server.client() as client:
            anonymous = client.post("/auth/check-registration", json=body)
            assert anonymous.status_code == 401
            token = login(client, "plain@example.org")
            refused = client.post(
                "/auth/check-registration", json=body, headers={"X-Session-Token": token}
            )
        assert refused.status_code == 403
        assert refused.json()["status"] == "FAIL"
        assert "secret" not in refused.text.lower()
