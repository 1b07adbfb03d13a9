"""The registry's front end end to end, and the registry's own users/tests.py as black-box
cases (see the reference's list), through real HTTP on each engine."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import MakeServer, SettingsFactory
from tests.http.test_trackhub_account import (
    FRONT_END,
    NEW,
    REGISTERED,
    query_of,
    reset_pair,
    token,
    verification_key,
)
from tests.support import PASSWORD, RunningServer, add_account


@pytest.fixture
def thr(settings_for: SettingsFactory, make_server: MakeServer) -> RunningServer:
    return make_server(settings_for(instances=FRONT_END, require_activation=False))


def test_the_front_ends_whole_path(thr: RunningServer) -> None:
    with thr.client() as client:
        # Register, read the mail, verify.
        body = {**NEW, "first_name": "Nina", "last_name": "New", "affiliation": "EMBL"}
        assert client.post("/api/register", json=body).json() == REGISTERED
        key = verification_key(thr)
        assert client.get("/api/email_verification", params={"token": key}).status_code == 200

        # Log in, read and update the profile.
        login = client.post("/api/login", data={"username": "newuser", "password": PASSWORD})
        assert login.json()["is_account_activated"] is True
        auth = token(login.json()["auth_token"])
        profile = client.get("/api/user", headers=auth).json()
        assert profile == {
            "username": "newuser",
            "email": "new@example.org",
            "first_name": "Nina",
            "last_name": "New",
            "affiliation": "EMBL",
            "check_interval": "automatic",
            "continuous_alert": False,
        }
        biostudies = client.get(
            "/auth/profile", headers={"X-Session-Token": auth["Authorization"][6:]}
        )
        assert biostudies.json()["fullname"] == "Nina New"
        update = {**profile, "last_name": "Newer", "check_interval": "monthly"}
        assert client.post("/api/user", headers=auth, data=update).status_code == 200
        assert client.get("/api/user", headers=auth).json() == {
            **update,
            "continuous_alert": False,
        }

        # Change the password: a new token for this client.
        changed = client.put(
            "/api/change_password",
            headers=auth,
            json={
                "old_password": PASSWORD,
                "new_password1": "second passphrase",
                "new_password2": "second passphrase",
            },
        )
        assert changed.status_code == 200
        assert client.get("/api/user", headers=auth).status_code == 401
        auth = token(changed.json()["token"])

        # Forget it and reset it.
        assert (
            client.post("/api/reset_password_email", json={"email": "new@example.org"}).status_code
            == 200
        )
        pair = reset_pair(thr, "new@example.org")
        assert client.get("/api/reset_password", params=pair).status_code == 200
        done = client.patch(
            "/api/reset_password_complete",
            json={
                **pair,
                "new_password": "third passphrase",
                "new_password_confirm": "third passphrase",
            },
        )
        assert done.status_code == 200
        # A reset ends every session, the one from the change too.
        assert client.get("/api/user", headers=auth).status_code == 401

        # Log in with the new password and out.
        login = client.post(
            "/api/login", data={"username": "newuser", "password": "third passphrase"}
        )
        auth = token(login.json()["auth_token"])
        assert client.post("/api/logout", headers=auth).json() == {
            "success": "Successfully logged out."
        }
        assert client.get("/api/user", headers=auth).status_code == 401


def test_without_a_front_end_the_links_lead_to_our_pages(
    settings_for: SettingsFactory, make_server: MakeServer
) -> None:
    server = make_server(settings_for(require_activation=False))
    with server.client() as client:
        assert client.post("/api/register", json=NEW).status_code == 201
    link = server.wait_for_mail("new@example.org", "Verify your email").link
    assert link.startswith("http://127.0.0.1:8000/account/activate/")


class TestRegistryCases:
    """users/tests.py of Ensembl/thr, case by case."""

    @pytest.fixture
    def user(self, thr: RunningServer) -> None:
        add_account(thr.settings, "user@email.com", username="exampleuser")

    def _token(self, thr: RunningServer) -> dict[str, str]:
        with thr.client() as client:
            answer = client.post(
                "/api/login", data={"username": "exampleuser", "password": PASSWORD}
            )
        assert answer.status_code == 200
        return token(answer.json()["auth_token"])

    def test_login_logout(self, thr: RunningServer, user: None) -> None:
        auth = self._token(thr)
        with thr.client() as client:
            assert client.post("/api/logout", headers=auth).status_code == 200
            assert client.post("/api/logout", headers=auth).status_code == 401
            assert client.post("/api/logout", headers=token("invalid")).status_code == 401
            assert client.post("/api/logout").status_code == 401

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"email": "a@example.org"},
            {**NEW, "password2": "mismatched passphrase"},
            {**NEW, "email": "user@email.com", "username": "taken-mail"},
            {**NEW, "username": ""},
            {**NEW, "email": "not-an-email"},
        ],
    )
    def test_registration_refused(
        self,
        settings_for: SettingsFactory,
        make_server: MakeServer,
        body: dict[str, Any],
    ) -> None:
        # The registry says "Email already in use": an operator's choice here.
        server = make_server(settings_for(instances=FRONT_END, reveal_existing_registration=True))
        add_account(server.settings, "user@email.com", username="exampleuser")
        with server.client() as client:
            assert client.post("/api/user/register", json=body).status_code == 400

    def test_registration_then_verification(self, thr: RunningServer) -> None:
        body = {k: NEW[k] for k in ("email", "username", "password", "password2")}
        with thr.client() as client:
            answer = client.post("/api/user/register", json={**body, "check_interval": "automatic"})
            assert answer.status_code == 201
            key = verification_key(thr)
            garbled = client.get("/api/user/email_verification", params={"token": key[:-3] + "@@@"})
            verified = client.get("/api/user/email_verification", params={"token": key})
        assert garbled.status_code == 400
        assert verified.status_code == 200

    def test_profile(self, thr: RunningServer, user: None) -> None:
        auth = self._token(thr)
        with thr.client() as client:
            assert client.get("/api/user", headers=auth).status_code == 200
            assert client.get("/api/user").status_code == 401
            ok = {"email": "user@email.com", "check_interval": "weekly"}
            assert client.post("/api/user", headers=auth, json=ok).status_code == 200
            no_email = {"check_interval": "weekly"}
            assert client.post("/api/user", headers=auth, json=no_email).status_code == 400
            bad_interval = {**ok, "check_interval": "yearly"}
            assert client.post("/api/user", headers=auth, json=bad_interval).status_code == 400

    def test_change_password(self, thr: RunningServer, user: None) -> None:
        auth = self._token(thr)
        new = {"new_password1": "changed passphrase", "new_password2": "changed passphrase"}
        with thr.client() as client:
            wrong = client.put(
                "/api/user/change_password", headers=auth, json={"old_password": "x", **new}
            )
            mismatched = client.put(
                "/api/user/change_password",
                headers=auth,
                json={**new, "old_password": PASSWORD, "new_password2": "other passphrase"},
            )
            ok = client.put(
                "/api/user/change_password", headers=auth, json={**new, "old_password": PASSWORD}
            )
        assert wrong.status_code == mismatched.status_code == 400
        assert ok.status_code == 200
        assert set(ok.json()) == {"success", "token"}

    def test_reset(self, thr: RunningServer, user: None) -> None:
        with thr.client() as client:
            for body in ({}, {"email": ""}, {"email": 123}, {"randomfield": "x"}):
                answer = client.post("/api/user/reset_password_email", json=body)
                assert answer.status_code == 400, body
            for email in ("user@email.com", "unknown@email.com"):
                answer = client.post("/api/user/reset_password_email", json={"email": email})
                assert answer.status_code == 200
            bad = client.get("/api/user/reset_password", params={"uidb64": "MQ", "token": "bad"})
            assert bad.status_code == 400
            pair = query_of(thr.wait_for_mail("user@email.com", "Reset").link)
            body = {
                **pair,
                "new_password": "reset passphrase",
                "new_password_confirm": "reset passphrase",
            }
            assert client.patch("/api/user/reset_password_complete", json=body).status_code == 200
            assert client.patch("/api/user/reset_password_complete", json=body).status_code == 400
