"""POST /auth/register (/auth/signup), activation by key, retryact and activate-by-email."""

from __future__ import annotations

import pytest

from tests.conftest import SettingsFactory
from tests.support import PASSWORD, RunningServer, add_account, fail_body

NEW = {
    "name": "Jo Smith",
    "email": "Jo.Smith@Example.org",
    "password": PASSWORD,
    "instanceKey": "default",
    "path": "activate",
}
BAD_KEY = fail_body("Could not find an un-active user with the provided activation key.")


def can_login(server: RunningServer, who: str, password: str = PASSWORD) -> bool:
    with server.client() as client:
        answer = client.post("/auth/login", json={"login": who, "password": password})
    return answer.status_code == 200


class TestRegister:
    def test_pending_until_the_mailed_key_is_used(self, server: RunningServer) -> None:
        with server.client() as client:
            answer = client.post("/auth/register", json=NEW)
            assert answer.status_code == 201
            assert answer.content == b""
            assert not can_login(server, "jo.smith@example.org")

            mail = server.wait_for_mail("jo.smith@example.org", "Account Activation")
            assert mail.subject == "Portcullis Account Activation"
            assert mail.link == f"http://127.0.0.1:8000/account/activate/{mail.key}"
            assert mail.link in mail.html
            assert len(mail.key) >= 22  # >= 128 bits

            assert client.post(f"/auth/activate/{mail.key}").status_code == 200
            assert can_login(server, "JO.SMITH@example.org")
            again = client.post(f"/auth/activate/{mail.key}")
        assert again.status_code == 400
        assert again.json() == BAD_KEY

    def test_signup_alias_and_profile_fields(
        self, settings_for: SettingsFactory, make_server
    ) -> None:  # type: ignore[no-untyped-def]
        server = make_server(settings_for(require_activation=False))
        with server.client() as client:
            answer = client.post(
                "/auth/signup",
                json={**NEW, "orcid": "0000-0002-1825-0097", "notificationsEnabled": True},
            )
            assert answer.status_code == 201
            profile = client.post(
                "/auth/login", json={"login": "jo.smith@example.org", "password": PASSWORD}
            ).json()
        assert profile["fullname"] == "Jo Smith"
        assert profile["aux"] == {"orcid": "0000-0002-1825-0097"}
        assert profile["superuser"] is False
        assert server.mails() == []  # active at once: nothing to mail

    @pytest.mark.parametrize(("sent", "stored"), [("true", True), ("false", False)])
    def test_form_fields_with_a_notifications_choice(
        self,
        settings_for: SettingsFactory,
        make_server,  # type: ignore[no-untyped-def]
        sent: str,
        stored: bool,
    ) -> None:
        # A form carries the boolean as text, where JSON has true and false.
        server = make_server(settings_for(require_activation=False))
        add_account(server.settings, "root@example.org", superuser=True)
        with server.client() as client:
            answer = client.post("/auth/register", data={**NEW, "notificationsEnabled": sent})
            assert answer.status_code == 201, answer.text
            root = client.post(
                "/auth/login", json={"login": "root@example.org", "password": PASSWORD}
            ).json()["sessid"]
            record = client.post(
                "/auth/check-registration",
                json={"userEmail": "jo.smith@example.org", "userName": "Jo"},
                headers={"X-Session-Token": root},
            ).json()
            nonsense = client.post(
                "/auth/register",
                data={**NEW, "email": "other@example.org", "notificationsEnabled": "maybe"},
            )
        assert record["notificationsEnabled"] is stored
        assert nonsense.status_code == 400

    @pytest.mark.parametrize("password", [" " * 15, "z" * 20])
    def test_one_character_repeated_is_refused(self, server: RunningServer, password: str) -> None:
        with server.client() as client:
            answer = client.post("/auth/register", json={**NEW, "password": password})
        assert answer.status_code == 400
        messages = [node["message"] for node in answer.json()["log"]["subnodes"]]
        assert "The password must not be one character repeated." in messages

    @pytest.mark.parametrize("email", ["\u00fcser@example.org", "user@ex\u00e4mple.org"])
    def test_an_address_outside_ascii_is_refused(self, server: RunningServer, email: str) -> None:
        # No mail could carry it without SMTPUTF8: better a clear 400 than a lost mail.
        with server.client() as client:
            answer = client.post("/auth/register", json={**NEW, "email": email})
        assert answer.status_code == 400
        assert answer.json()["log"]["subnodes"][0]["message"] == (
            "The provided email must be written in ASCII (an international domain in its xn-- form)"
        )
        assert server.mails() == []

    def test_existing_email_changes_nothing_and_tells_only_the_owner(
        self, server: RunningServer
    ) -> None:
        add_account(server.settings, "jo.smith@example.org", full_name="Original")
        with server.client() as client:
            answer = client.post("/auth/register", json={**NEW, "password": "a brand new phrase"})
        assert answer.status_code == 201
        assert answer.content == b""
        mail = server.wait_for_mail("jo.smith@example.org", "Registration Attempt")
        assert "already have an account" in mail.text
        assert can_login(server, "jo.smith@example.org")
        assert not can_login(server, "jo.smith@example.org", "a brand new phrase")

    def test_existing_email_is_explicit_when_configured(
        self,
        settings_for: SettingsFactory,
        make_server,  # type: ignore[no-untyped-def]
    ) -> None:
        server = make_server(settings_for(reveal_existing_registration=True))
        add_account(server.settings, "jo.smith@example.org")
        with server.client() as client:
            answer = client.post("/auth/register", json=NEW)
        assert answer.status_code == 400
        assert answer.json() == fail_body(
            "There is a user already registered with the email address 'jo.smith@example.org'."
        )

    def test_every_password_problem_is_reported_at_once(self, server: RunningServer) -> None:
        with server.client() as client:
            answer = client.post(
                "/auth/register", json={**NEW, "email": "qwerty@example.org", "password": "qwerty"}
            )
        assert answer.status_code == 400
        messages = [n["message"] for n in answer.json()["log"]["subnodes"]]
        assert len(messages) == 3
        assert any("at least 8" in m for m in messages)
        assert any("too common" in m for m in messages)
        assert any("e-mail name" in m for m in messages)

    @pytest.mark.parametrize(
        "password",
        [
            "ünïcødé pässwörd ☃",
            "xy" * 512,  # the longest allowed (one character repeated is refused)
            "  spaces  at  the  ends  ",
            "\u00a0nbsp\u00a0inside\u00a0",
        ],
    )
    def test_any_characters_up_to_1024_are_accepted(
        self,
        settings_for: SettingsFactory,
        make_server,
        password: str,  # type: ignore[no-untyped-def]
    ) -> None:
        server = make_server(settings_for(require_activation=False))
        with server.client() as client:
            assert (
                client.post("/auth/register", json={**NEW, "password": password}).status_code == 201
            )
        assert can_login(server, "jo.smith@example.org", password)
        assert not can_login(server, "jo.smith@example.org", password[:-1])

    def test_over_1024_is_refused_not_truncated(self, server: RunningServer) -> None:
        with server.client() as client:
            answer = client.post("/auth/register", json={**NEW, "password": "y" * 1025})
        assert answer.status_code == 400

    def test_passwords_are_nfkc_normalised(
        self, settings_for: SettingsFactory, make_server
    ) -> None:  # type: ignore[no-untyped-def]
        server = make_server(settings_for(require_activation=False))
        with server.client() as client:
            # Full-width letters, as some keyboards type them, are the same password.
            client.post(
                "/auth/register",
                json={
                    **NEW,
                    "password": "".join(
                        chr(ord(c) + 0xFEE0) if c != " " else c for c in "correct horse"
                    ),
                },
            )
        assert can_login(server, "jo.smith@example.org", "correct horse")

    def test_minimum_length_is_a_setting(self, settings_for: SettingsFactory, make_server) -> None:  # type: ignore[no-untyped-def]
        server = make_server(settings_for(password_min_length=15))
        with server.client() as client:
            answer = client.post("/auth/register", json={**NEW, "password": "fourteen chars"})
        assert answer.status_code == 400
        assert "at least 15" in answer.text

    def test_unknown_instance_is_400_and_mails_nothing(self, server: RunningServer) -> None:
        with server.client() as client:
            answer = client.post(
                "/auth/register", json={**NEW, "instanceKey": "https://custom-server"}
            )
        assert answer.status_code == 400
        assert answer.json()["status"] == "FAIL"
        assert not can_login(server, "jo.smith@example.org")
        assert server.mails() == []


class TestLinks:
    @pytest.mark.parametrize(
        "path", ["/autenticate/ui-link", "/autenticate/ui-link/", "autenticate/ui-link"]
    )
    def test_three_path_forms_give_one_link(
        self,
        settings_for: SettingsFactory,
        make_server,
        path: str,  # type: ignore[no-untyped-def]
    ) -> None:
        server = make_server(settings_for(instances={"portal": "https://portal.example.org/"}))
        with server.client() as client:
            client.post(
                "/auth/register",
                json={**NEW, "instanceKey": "portal", "path": path},
                headers={"Host": "evil.example.com"},
            )
        mail = server.wait_for_mail("jo.smith@example.org")
        assert mail.link == f"https://portal.example.org/autenticate/ui-link/{mail.key}"


class TestRetryActivation:
    def test_a_fresh_key_voids_the_old_one(self, server: RunningServer) -> None:
        with server.client() as client:
            client.post("/auth/register", json=NEW)
            first = server.wait_for_mail("jo.smith@example.org", "Activation")
            answer = client.post(
                "/auth/retryact",
                json={
                    "email": "jo.smith@example.org",
                    "instanceKey": "default",
                    "path": "activate",
                },
            )
            assert answer.status_code == 200
            second = server.wait_for_mail("jo.smith@example.org", "Activation")
            assert second.key != first.key
            assert client.post(f"/auth/activate/{first.key}").status_code == 400
            assert client.post(f"/auth/activate/{second.key}").status_code == 200

    def test_unknown_and_active_addresses_get_the_same_answer_and_no_mail(
        self, server: RunningServer
    ) -> None:
        add_account(server.settings, "active@example.org")
        answers = []
        with server.client() as client:
            for address in ("nobody@example.org", "active@example.org"):
                answer = client.post(
                    "/auth/retryact",
                    json={"email": address, "instanceKey": "default", "path": "activate"},
                )
                answers.append((answer.status_code, answer.content))
        assert answers == [(200, b""), (200, b"")]
        assert server.mails() == []


class TestActivateByEmail:
    def test_password_setup_mail_sets_password_and_activates(self, server: RunningServer) -> None:
        add_account(server.settings, "setup@example.org", password=None, active=False)
        with server.client() as client:
            answer = client.post(
                "/auth/activate",
                json={
                    "email": "setup@example.org",
                    "instanceKey": "default",
                    "path": "/password/reset",
                },
            )
            assert answer.status_code == 200
            mail = server.wait_for_mail("setup@example.org", "Password Setup")
            assert mail.key in mail.text  # the code is shown as well as the link
            changed = client.post(
                "/auth/password/change", json={"activationKey": mail.key, "password": PASSWORD}
            )
        assert changed.status_code == 200
        assert can_login(server, "setup@example.org")

    def test_unknown_address_answers_alike(self, server: RunningServer) -> None:
        with server.client() as client:
            answer = client.post(
                "/auth/activate",
                json={"email": "ghost@example.org", "instanceKey": "default", "path": "x"},
            )
        assert (answer.status_code, answer.content) == (200, b"")
        assert server.mails() == []


def test_activation_key_expires(settings_for: SettingsFactory, make_server) -> None:  # type: ignore[no-untyped-def]
    import time

    server = make_server(settings_for(activation_key_lifetime_seconds=1))
    with server.client() as client:
        client.post("/auth/register", json=NEW)
        mail = server.wait_for_mail("jo.smith@example.org")
        time.sleep(2.1)
        answer = client.post(f"/auth/activate/{mail.key}")
    assert answer.status_code == 400
    assert answer.json() == BAD_KEY
