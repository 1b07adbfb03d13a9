"""Changing the e-mail through the registry's POST /api/user: the new address is the
account's only once the key mailed to it comes back, through real HTTP on each engine."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from tests.conftest import MakeServer, SettingsFactory
from tests.http.test_trackhub_account import FRONT_END, query_of, reset_pair, token
from tests.support import PASSWORD, RunningServer, add_account

ASKED = {
    "success": "User profile updated successfully! "
    "A verification link has been sent to your new email address"
}
CHANGED = {"success": "Email address updated! It is your account's email now"}


@pytest.fixture
def thr(settings_for: SettingsFactory, make_server: MakeServer) -> RunningServer:
    return make_server(settings_for(instances=FRONT_END, require_activation=False))


def sign_in(server: RunningServer, login: str, password: str = PASSWORD) -> httpx.Response:
    with server.client() as client:
        return client.post("/api/login", data={"username": login, "password": password})


@pytest.fixture
def member(thr: RunningServer) -> str:
    add_account(thr.settings, "user@email.com", username="exampleuser", full_name="Example User")
    return str(sign_in(thr, "exampleuser").json()["auth_token"])


def ask_for(server: RunningServer, auth: str, email: str, **more: Any) -> httpx.Response:
    body = {"email": email, "check_interval": "weekly", **more}
    with server.client() as client:
        return client.post("/api/user", headers=token(auth), json=body)


def profile_of(server: RunningServer, auth: str) -> dict[str, Any]:
    with server.client() as client:
        answer = client.get("/api/user", headers=token(auth))
    assert answer.status_code == 200
    return dict(answer.json())


def change_key(server: RunningServer, to: str) -> str:
    mail = server.wait_for_mail(to, "Verify your new email")
    assert mail.link.startswith("https://thr.example/email_verification?token=")
    return query_of(mail.link)["token"]


def verify(server: RunningServer, key: str) -> httpx.Response:
    with server.client() as client:
        return client.get("/api/user/email_verification", params={"token": key})


class TestToAFreeAddress:
    def test_the_address_changes_only_when_the_mailed_key_comes_back(
        self, thr: RunningServer, member: str
    ) -> None:
        answer = ask_for(thr, member, "New.Address@Example.org", affiliation="EBI")
        assert answer.status_code == 200
        assert answer.json() == ASKED
        # The rest of the profile is saved; the e-mail waits for the key.
        profile = profile_of(thr, member)
        assert profile["email"] == "user@email.com"
        assert (profile["affiliation"], profile["check_interval"]) == ("EBI", "weekly")
        assert sign_in(thr, "new.address@example.org").status_code == 401

        key = change_key(thr, "new.address@example.org")
        answer = verify(thr, key)
        assert answer.status_code == 200
        assert answer.json() == CHANGED
        assert profile_of(thr, member)["email"] == "new.address@example.org"
        # The address given up is told, and no longer signs in; the new one does.
        told = thr.wait_for_mail("user@email.com", "Email Changed")
        assert "new.address@example.org" in told.text
        assert sign_in(thr, "user@email.com").status_code == 401
        assert sign_in(thr, "new.address@example.org").json()["is_account_activated"] is True
        # Single use.
        assert verify(thr, key).status_code == 400

    def test_the_same_address_mails_nothing(self, thr: RunningServer, member: str) -> None:
        answer = ask_for(thr, member, "USER@email.com")
        assert answer.status_code == 200
        assert answer.json() == {"success": "User profile updated successfully!"}
        # A later change's mail arrives; had the first queued one, it would stand before it.
        assert ask_for(thr, member, "later@example.org").status_code == 200
        change_key(thr, "later@example.org")
        assert [m.to for m in thr.mails() if "Verify" in m.subject] == ["later@example.org"]

    def test_a_newer_request_voids_the_older_key(self, thr: RunningServer, member: str) -> None:
        assert ask_for(thr, member, "first@example.org").status_code == 200
        first = change_key(thr, "first@example.org")
        assert ask_for(thr, member, "second@example.org").status_code == 200
        second = change_key(thr, "second@example.org")
        assert verify(thr, first).status_code == 400
        assert verify(thr, second).status_code == 200
        assert profile_of(thr, member)["email"] == "second@example.org"

    def test_reset_links_mailed_to_the_old_address_stop_working(
        self, thr: RunningServer, member: str
    ) -> None:
        with thr.client() as client:
            body = {"email": "user@email.com"}
            assert client.post("/api/user/reset_password_email", json=body).status_code == 200
        pair = reset_pair(thr)
        assert ask_for(thr, member, "moved@example.org").status_code == 200
        assert verify(thr, change_key(thr, "moved@example.org")).status_code == 200
        with thr.client() as client:
            answer = client.get("/api/user/reset_password", params=pair)
        assert answer.status_code == 400


class TestToAnAddressOfAnotherAccount:
    def test_the_answer_does_not_tell_and_the_link_refuses(
        self, thr: RunningServer, member: str
    ) -> None:
        add_account(thr.settings, "other@example.org", username="other")
        answer = ask_for(thr, member, "other@example.org")
        # As for a free address: a signed-in user learns nothing of other accounts.
        assert answer.status_code == 200
        assert answer.json() == ASKED
        # Only the address's holder, who opens the link, learns it has an account.
        answer = verify(thr, change_key(thr, "other@example.org"))
        assert answer.status_code == 400
        assert answer.json() == {"error": "Email already in use"}
        assert profile_of(thr, member)["email"] == "user@email.com"
        assert sign_in(thr, "other@example.org").status_code == 200

    def test_two_accounts_racing_for_one_address_one_wins(
        self, thr: RunningServer, member: str
    ) -> None:
        add_account(thr.settings, "rival@example.org", username="rival")
        rival = str(sign_in(thr, "rival").json()["auth_token"])
        assert ask_for(thr, member, "prize@example.org").status_code == 200
        assert ask_for(thr, rival, "prize@example.org").status_code == 200
        keys = [change_key(thr, "prize@example.org") for _ in range(2)]
        answers: list[httpx.Response] = []
        start = threading.Barrier(len(keys))

        def use(key: str) -> None:
            start.wait()
            answers.append(verify(thr, key))

        threads = [threading.Thread(target=use, args=(key,)) for key in keys]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(a.status_code for a in answers) == [200, 400]
        # One account took the address; the other kept its own.
        holders = {profile_of(thr, auth)["email"] for auth in (member, rival)}
        assert "prize@example.org" in holders
        assert len(holders & {"user@email.com", "rival@example.org"}) == 1


class TestRefused:
    @pytest.mark.parametrize("email", ["not-an-email", "a@b@example.org", "", 12])
    def test_a_bad_address_is_a_field_error_and_changes_nothing(
        self, thr: RunningServer, member: str, email: Any
    ) -> None:
        answer = ask_for(thr, member, email)
        assert answer.status_code == 400
        assert list(answer.json()) == ["email"]
        assert profile_of(thr, member)["check_interval"] == "automatic"

    def test_too_many_changes_are_a_429_that_changes_nothing(
        self, settings_for: SettingsFactory, make_server: MakeServer
    ) -> None:
        server = make_server(
            settings_for(instances=FRONT_END, require_activation=False, rate_limit_mail="2/hour")
        )
        add_account(server.settings, "user@email.com", username="exampleuser")
        auth = str(sign_in(server, "exampleuser").json()["auth_token"])
        for n in range(2):
            assert ask_for(server, auth, f"n{n}@example.org").status_code == 200
        answer = ask_for(server, auth, "n2@example.org", affiliation="late")
        assert answer.status_code == 429
        assert "Retry-After" in answer.headers
        assert profile_of(server, auth)["affiliation"] == ""
