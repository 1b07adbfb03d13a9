"""The Track Hub Registry's account API: each route, through real HTTP, on each engine."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest

from portcullis.core.validation import username_problems
from portcullis.http.trackhub_fields import BLANK, NOT_BOOLEAN, NOT_EMAIL, NOT_TEXT, REQUIRED
from tests.conftest import MakeServer, SettingsFactory
from tests.support import PASSWORD, RunningServer, add_account

FRONT_END = {
    "trackhub_verify": "https://thr.example/email_verification?token={key}",
    "trackhub_reset": "https://thr.example/reset_password?uidb64={uid}&token={key}",
}
NEW = {
    "email": "new@example.org",
    "username": "newuser",
    "password": PASSWORD,
    "password2": PASSWORD,
    "check_interval": "automatic",
}
REGISTERED = {
    "success": "User registered successfully! "
    "A verification link has been sent to your email address"
}
PREFIXES = ["/api", "/api/user"]

TOO_LONG = "Ensure this field has no more than {} characters."
SEVERAL_PROBLEMS: list[tuple[str, dict[str, Any], dict[str, list[str]]]] = [
    (
        "register",
        {},
        {f: [REQUIRED] for f in ("email", "username", "password", "password2")},
    ),
    (
        "register",
        {
            "email": "not an address",
            "username": "bad name!",
            "password": "one passphrase",
            "password2": "another passphrase",
            "first_name": "x" * 151,
            "check_interval": "hourly",
            "continuous_alert": "maybe",
        },
        {
            "email": [NOT_EMAIL],
            "first_name": [TOO_LONG.format(150)],
            "check_interval": ['"hourly" is not a valid choice.'],
            "continuous_alert": [NOT_BOOLEAN],
            "username": username_problems("bad name!"),
            "password": ["Password fields didn't match."],
        },
    ),
    (
        "register",
        {
            "email": 5,
            "username": ["x"],
            "password": None,
            "password2": "",
            "check_interval": True,
            "continuous_alert": 2,
        },
        {
            "email": [NOT_TEXT],
            "username": [NOT_TEXT],
            "password": [REQUIRED],
            "password2": [BLANK],
            "check_interval": ['"True" is not a valid choice.'],
            "continuous_alert": [NOT_BOOLEAN],
        },
    ),
    (
        "change_password",
        {"old_password": "", "new_password1": "one", "new_password2": "two"},
        {"old_password": [BLANK], "new_password2": ["The two password fields didn't match."]},
    ),
    (
        "change_password",
        {"new_password1": 3},
        {"old_password": [REQUIRED], "new_password1": [NOT_TEXT], "new_password2": [REQUIRED]},
    ),
    (
        "reset_password_complete",
        {"new_password": "one", "new_password_confirm": "two", "token": " "},
        {
            "uidb64": [REQUIRED],
            "token": [BLANK],
            "new_password_confirm": ["Password fields didn't match."],
        },
    ),
    ("reset_password_email", {"email": "  "}, {"email": [BLANK]}),
    ("reset_password_email", {"email": [], "recaptcha2-response": 1}, {"email": [NOT_TEXT]}),
    (
        "user",
        {"email": "x", "check_interval": ["weekly"], "affiliation": "a" * 256},
        {
            "email": [NOT_EMAIL],
            "check_interval": ['"list" is not a valid choice.'],
            "affiliation": [TOO_LONG.format(255)],
        },
    ),
]


@pytest.fixture
def thr(settings_for: SettingsFactory, make_server: MakeServer) -> RunningServer:
    return make_server(settings_for(instances=FRONT_END, require_activation=False))


@pytest.fixture
def member(thr: RunningServer) -> str:
    """A signed-in account's token."""
    add_account(thr.settings, "user@email.com", username="exampleuser", full_name="Example User")
    with thr.client() as client:
        answer = client.post("/api/login", data={"username": "exampleuser", "password": PASSWORD})
    return str(answer.json()["auth_token"])


def token(value: str) -> dict[str, str]:
    return {"Authorization": f"Token {value}"}


def query_of(link: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(link).query).items()}


def verification_key(
    server: RunningServer, to: str = "new@example.org", subject: str = "Verify your email"
) -> str:
    link = server.wait_for_mail(to, subject).link
    assert link.startswith("https://thr.example/email_verification?token=")
    return query_of(link)["token"]


def reset_pair(server: RunningServer, to: str = "user@email.com") -> dict[str, str]:
    link = server.wait_for_mail(to, "Reset").link
    assert link.startswith("https://thr.example/reset_password?uidb64=")
    return query_of(link)


class TestProfile:
    @pytest.mark.parametrize("prefix", ["/api/user"])
    def test_read_with_a_token(self, thr: RunningServer, member: str, prefix: str) -> None:
        with thr.client() as client:
            answer = client.get(prefix, headers=token(member))
        assert answer.status_code == 200
        assert answer.json() == {
            "username": "exampleuser",
            "email": "user@email.com",
            "first_name": "Example User",  # the full name, as no first and last were given
            "last_name": "",
            "affiliation": "",
            "check_interval": "automatic",
            "continuous_alert": False,
        }

    def test_401_without_or_with_a_bad_token(self, thr: RunningServer, member: str) -> None:
        with thr.client() as client:
            missing = client.get("/api/user")
            bad = client.get("/api/user", headers=token("nonsense"))
        assert missing.status_code == bad.status_code == 401
        assert missing.json()["detail"] == "Authentication credentials were not provided."
        assert bad.json()["detail"] == "Invalid token."
        assert "error" in missing.json() and "error" in bad.json()
        assert bad.headers["www-authenticate"] == "Token"

    def test_legacy_headers_with_an_underscore(self, thr: RunningServer, member: str) -> None:
        with thr.client() as client:
            answer = client.get("/api/user", headers={"User": "exampleuser", "auth_token": member})
            other = client.get("/api/user", headers={"User": "someone", "auth_token": member})
        assert answer.status_code == 200
        assert other.status_code == 401

    @pytest.mark.parametrize("body_kind", ["json", "data", "files"])
    def test_update(self, thr: RunningServer, member: str, body_kind: str) -> None:
        body: dict[str, Any] = {
            "email": "user@email.com",
            "first_name": "Ann",
            "last_name": "Other",
            "affiliation": "EMBL-EBI",
            "check_interval": "weekly",
            "continuous_alert": True if body_kind == "json" else "true",
        }
        sent: dict[str, Any] = (
            {"files": {k: (None, str(v)) for k, v in body.items()}}
            if body_kind == "files"
            else {body_kind: body}
        )
        with thr.client() as client:
            answer = client.post("/api/user", headers=token(member), **sent)
            shown = client.get("/api/user", headers=token(member)).json()
            # BioStudies sees the same name.
            profile = client.get("/auth/profile", headers={"X-Session-Token": member}).json()
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"success": "User profile updated successfully!"}
        assert shown == {"username": "exampleuser", **body, "continuous_alert": True}
        assert profile["fullname"] == "Ann Other"

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"check_interval": "weekly"}, "email"),
            ({"email": "user@email.com", "check_interval": "daily"}, "check_interval"),
            ({"email": "not an address", "check_interval": "weekly"}, "email"),
            ({"email": "user@email.com"}, "check_interval"),
            (
                {"email": "user@email.com", "check_interval": "weekly", "continuous_alert": "x"},
                "continuous_alert",
            ),
        ],
    )
    def test_update_validates(
        self, thr: RunningServer, member: str, body: dict[str, Any], field: str
    ) -> None:
        with thr.client() as client:
            answer = client.post("/api/user", headers=token(member), json=body)
        assert answer.status_code == 400
        assert list(answer.json()) == [field]
        assert isinstance(answer.json()[field][0], str)

    def test_update_without_a_body(self, thr: RunningServer, member: str) -> None:
        with thr.client() as client:
            answer = client.post("/api/user", headers=token(member))
        assert answer.status_code == 400
        assert answer.json() == {"error": "Missing message body in request"}


class TestRegister:
    @pytest.mark.parametrize("prefix", PREFIXES)
    def test_201_and_a_verification_mail(self, thr: RunningServer, prefix: str) -> None:
        with thr.client() as client:
            answer = client.post(f"{prefix}/register", data=NEW)
            key = verification_key(thr)
            login = client.post("/api/login", data={"username": "newuser", "password": PASSWORD})
        assert answer.status_code == 201, answer.text
        assert answer.json() == REGISTERED
        assert len(key) >= 22
        # Activation is not required: signed in, but not yet verified.
        assert login.status_code == 200
        assert login.json()["is_account_activated"] is False

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"email": None}, "email"),
            ({"username": None}, "username"),
            ({"password": None}, "password"),
            ({"password2": None}, "password2"),
            ({"password2": "another passphrase"}, "password"),
            ({"email": "not-an-email"}, "email"),
            ({"check_interval": "hourly"}, "check_interval"),
            ({"password": "qwerty", "password2": "qwerty"}, "password"),
        ],
    )
    def test_bad_bodies_are_400_by_field(
        self, thr: RunningServer, change: dict[str, Any], field: str
    ) -> None:
        body = {k: v for k, v in {**NEW, **change}.items() if v is not None}
        with thr.client() as client:
            answer = client.post("/api/user/register", json=body)
        assert answer.status_code == 400
        assert field in answer.json()
        assert thr.mails() == []

    def test_an_email_in_use_when_registrations_are_revealed(
        self, settings_for: SettingsFactory, make_server: MakeServer
    ) -> None:
        server = make_server(settings_for(reveal_existing_registration=True))
        add_account(server.settings, "new@example.org")
        with server.client() as client:
            answer = client.post("/api/register", json=NEW)
        assert answer.status_code == 400
        assert answer.json() == {"email": ["Email already in use"]}


class TestEmailVerification:
    @pytest.mark.parametrize("prefix", PREFIXES)
    def test_with_the_mailed_token_then_used(self, thr: RunningServer, prefix: str) -> None:
        with thr.client() as client:
            client.post("/api/register", json=NEW)
            key = verification_key(thr)
            answer = client.get(f"{prefix}/email_verification", params={"token": key})
            again = client.get(f"{prefix}/email_verification", params={"token": key})
            login = client.post("/api/login", data={"username": "newuser", "password": PASSWORD})
        assert answer.status_code == 200
        assert answer.json() == {"success": "Account activated! Please login to your account"}
        assert again.status_code == 400
        assert again.json() == {
            "error": "This activation link is expired or have already been used!"
        }
        assert login.json()["is_account_activated"] is True

    @pytest.mark.parametrize("garbled", ["", "not a token!", "x" * 300])
    def test_a_garbled_token(self, thr: RunningServer, garbled: str) -> None:
        with thr.client() as client:
            answer = client.get("/api/email_verification", params={"token": garbled})
        assert answer.status_code == 400
        assert answer.json() == {"error": "Invalid token!"}


def change(client: httpx.Client, auth: str, **fields: str) -> httpx.Response:
    body = {"old_password": PASSWORD, "new_password1": "a new passphrase", **fields}
    body.setdefault("new_password2", body["new_password1"])
    return client.put("/api/user/change_password", headers=token(auth), json=body)


class TestChangePassword:
    def test_200_with_a_new_token_and_the_old_sessions_end(
        self, thr: RunningServer, member: str
    ) -> None:
        with thr.client() as client:
            other = client.post(
                "/api/login", data={"username": "exampleuser", "password": PASSWORD}
            ).json()["auth_token"]
            answer = change(client, member)
            new_token = answer.json()["token"]
            assert client.get("/api/user", headers=token(new_token)).status_code == 200
            for ended in (member, other):
                assert client.get("/api/user", headers=token(ended)).status_code == 401
            login = client.post(
                "/api/login", data={"username": "exampleuser", "password": "a new passphrase"}
            )
        assert answer.status_code == 200
        assert answer.json()["success"] == "Your password is updated successfully!"
        assert login.status_code == 200

    def test_a_wrong_old_password(self, thr: RunningServer, member: str) -> None:
        with thr.client() as client:
            answer = change(client, member, old_password="not my password")
        assert answer.status_code == 400
        assert list(answer.json()) == ["old_password"]

    def test_mismatched_new_passwords(self, thr: RunningServer, member: str) -> None:
        with thr.client() as client:
            answer = change(client, member, new_password2="something else entirely")
        assert answer.status_code == 400
        assert list(answer.json()) == ["new_password2"]

    def test_a_weak_new_password(self, thr: RunningServer, member: str) -> None:
        with thr.client() as client:
            answer = change(client, member, new_password1="qwerty")
        assert answer.status_code == 400
        assert list(answer.json()) == ["new_password2"]

    def test_without_a_token(self, thr: RunningServer) -> None:
        with thr.client() as client:
            answer = client.put("/api/change_password", json={})
        assert answer.status_code == 401


class TestReset:
    @pytest.mark.parametrize(
        "body", [{}, {"email": ""}, {"email": 123}, {"randomfield": "x"}, {"email": "nope"}]
    )
    def test_bad_bodies(self, thr: RunningServer, body: dict[str, Any]) -> None:
        with thr.client() as client:
            answer = client.post("/api/user/reset_password_email", json=body)
        assert answer.status_code == 400
        assert list(answer.json()) == ["email"]

    def test_known_and_unknown_answer_alike(self, thr: RunningServer, member: str) -> None:
        with thr.client() as client:
            known = client.post("/api/reset_password_email", json={"email": "user@email.com"})
            unknown = client.post("/api/reset_password_email", json={"email": "no@example.org"})
        assert known.status_code == unknown.status_code == 200
        assert known.json() == unknown.json()
        assert reset_pair(thr)["token"]

    def test_limited_as_the_biostudies_reset(
        self, settings_for: SettingsFactory, make_server: MakeServer
    ) -> None:
        server = make_server(settings_for(rate_limit_reset_per_account="2/hour"))
        with server.client() as client:
            answers = [
                client.post("/api/reset_password_email", json={"email": "no@example.org"})
                for _ in range(3)
            ]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert "retry-after" in answers[2].headers

    def test_check_then_complete_once(self, thr: RunningServer, member: str) -> None:
        with thr.client() as client:
            client.post("/api/reset_password_email", data={"email": "user@email.com"})
            pair = reset_pair(thr)
            checked = client.get("/api/user/reset_password", params=pair)
            body = {**pair, "new_password": "reset passphrase", "new_password_confirm": ""}
            body["new_password_confirm"] = body["new_password"]
            done = client.patch("/api/user/reset_password_complete", json=body)
            again = client.patch("/api/reset_password_complete", json=body)
            login = client.post(
                "/api/login", data={"username": "exampleuser", "password": "reset passphrase"}
            )
        assert checked.status_code == 200
        assert checked.json() == {"success": "Credentials are Valid", **pair}
        assert done.status_code == 200
        assert done.json() == {"success": "Password reset successfully!"}
        assert again.status_code == 400
        assert again.json() == {"error": ["The reset link is invalid"]}
        assert login.status_code == 200

    def test_a_key_with_another_accounts_uid(self, thr: RunningServer, member: str) -> None:
        with thr.client() as client:
            client.post("/api/reset_password_email", json={"email": "user@email.com"})
            pair = reset_pair(thr)
            wrong = {**pair, "uidb64": "AAAAAAAAAAAAAAAA"}
            checked = client.get("/api/reset_password", params=wrong)
            body = {**wrong, "new_password": "reset passphrase"}
            done = client.patch(
                "/api/reset_password_complete",
                json={**body, "new_password_confirm": body["new_password"]},
            )
            still = client.get("/api/reset_password", params=pair)
        assert checked.status_code == 400
        assert checked.json() == {"error": "Token is not valid, please request a new one"}
        assert done.status_code == 400
        assert still.status_code == 200

    @pytest.mark.parametrize(
        "params", [{}, {"uidb64": "x", "token": "y"}, {"uidb64": "", "token": "z" * 300}]
    )
    def test_bad_pairs(self, thr: RunningServer, params: dict[str, str]) -> None:
        with thr.client() as client:
            checked = client.get("/api/reset_password", params=params)
            done = client.patch(
                "/api/reset_password_complete",
                json={**params, "new_password": "p" * 12, "new_password_confirm": "p" * 12},
            )
        assert checked.status_code == 400
        assert done.status_code == 400

    def test_complete_needs_every_field(self, thr: RunningServer) -> None:
        with thr.client() as client:
            answer = client.patch("/api/reset_password_complete", json={"new_password": "x"})
        assert answer.status_code == 400
        assert set(answer.json()) == {"new_password_confirm", "uidb64", "token"}


class TestSeveralProblems:
    """Bodies with several problems, byte for byte: REST framework's messages, each
    field's as it is read in the body's order, then the checks across fields (the
    registry's clients read them field by field, its front end the first of each)."""

    @pytest.mark.parametrize(("view", "body", "expected"), SEVERAL_PROBLEMS)
    def test_every_problem_in_rest_frameworks_words_and_order(
        self,
        thr: RunningServer,
        member: str,
        view: str,
        body: dict[str, Any],
        expected: dict[str, list[str]],
    ) -> None:
        with thr.client() as client:
            answer = client.post(f"/api/{view}", headers=token(member), json=body)
        assert answer.status_code == 400
        assert answer.content == orjson.dumps(expected)

    def test_the_password_policy_is_told_with_the_fields(self, thr: RunningServer) -> None:
        body = {
            "email": "new@example.org",
            "username": "newbie",
            "password": "qwerty",
            "password2": "qwerty",
            "last_name": 7,
        }
        with thr.client() as client:
            answer = client.post("/api/register", json={**body, "last_name": "Smith"})
            typed = client.post("/api/register", json=body)
        assert answer.status_code == typed.status_code == 400
        assert list(answer.json()) == ["password"] and answer.json()["password"]
        assert list(typed.json()) == ["last_name", "password"]
        assert typed.json()["last_name"] == [NOT_TEXT]
        assert typed.json()["password"] == answer.json()["password"]
