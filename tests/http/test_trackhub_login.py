"""The Track Hub Registry login: /api/login, /api/logout, and the same under /api/user/."""

from __future__ import annotations

import base64

import pytest

from portcullis.config import Settings
from tests.support import PASSWORD, RunningServer, add_account

NEED_LOGIN = {
    "detail": "Invalid token.",
    "error": "You need to login, get an auth_token and make requests using the token",
}


@pytest.fixture
def account(settings: Settings) -> None:
    add_account(settings, "user@email.com", username="exampleuser", full_name="Example User")


def basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def thr_login(server: RunningServer) -> str:
    with server.client() as client:
        answer = client.post("/api/login", data={"username": "exampleuser", "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["auth_token"])


class TestLogin:
    @pytest.mark.parametrize("prefix", ["/api", "/api/user"])
    def test_form_post_as_in_the_seed(
        self, server: RunningServer, account: None, prefix: str
    ) -> None:
        with server.client() as client:
            answer = client.post(
                f"{prefix}/login", data={"username": "exampleuser", "password": PASSWORD}
            )
        assert answer.status_code == 200
        # As the registry's documentation shows it.
        assert answer.headers["content-type"] == "application/json; charset=utf-8"
        body = answer.json()
        assert set(body) == {"auth_token", "email", "is_account_activated"}
        assert body["email"] == "user@email.com"
        assert body["is_account_activated"] is True
        assert len(body["auth_token"]) >= 43

    def test_json_post(self, server: RunningServer, account: None) -> None:
        with server.client() as client:
            answer = client.post(
                "/api/login", json={"username": "user@email.com", "password": PASSWORD}
            )
        assert answer.status_code == 200

    def test_multipart_post(self, server: RunningServer, account: None) -> None:
        with server.client() as client:
            answer = client.post(
                "/api/login",
                files={"username": (None, "exampleuser"), "password": (None, PASSWORD)},
            )
        assert answer.status_code == 200

    @pytest.mark.parametrize("method", ["GET", "POST"])
    def test_basic_auth(self, server: RunningServer, account: None, method: str) -> None:
        with server.client() as client:
            answer = client.request(method, "/api/login", headers=basic("exampleuser", PASSWORD))
        assert answer.status_code == 200
        assert answer.json()["auth_token"]

    def test_bad_basic_is_401_with_basic_challenge(
        self, server: RunningServer, account: None
    ) -> None:
        with server.client() as client:
            answer = client.get("/api/login", headers=basic("exampleuser", "wrong"))
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"].startswith("Basic")
        assert "error" in answer.json()

    @pytest.mark.parametrize(
        "request_kwargs",
        [
            {"method": "GET"},
            {"method": "POST"},
            {"method": "POST", "data": {"username": "exampleuser"}},
            {"method": "POST", "data": {"username": "exampleuser", "password": "nope"}},
            {"method": "POST", "data": {"username": "ghost", "password": PASSWORD}},
            {"method": "GET", "headers": {"Authorization": "Basic !!!notbase64"}},
            {
                "method": "GET",
                "headers": {"Authorization": "Basic " + base64.b64encode(b"nocolon").decode()},
            },
            {"method": "POST", "json": {"username": 12, "password": ["x"]}},
            # Raw bytes outside ASCII, where base64 belongs, and base64 of text not UTF-8.
            {"method": "POST", "headers": {"Authorization": b"Basic \xff\xfe=="}},
            {"method": "GET", "headers": {"Authorization": "Basic"}},
            {"method": "POST", "headers": {"Authorization": "basic !!"}},
            {
                "method": "GET",
                "headers": {"Authorization": b"Basic " + base64.b64encode(b"\xff:\xfe")},
            },
        ],
    )
    def test_bad_or_missing_credentials_are_401(
        self, server: RunningServer, account: None, request_kwargs: dict[str, object]
    ) -> None:
        kwargs = dict(request_kwargs)
        method = str(kwargs.pop("method"))
        with server.client() as client:
            answer = client.request(method, "/api/login", **kwargs)  # type: ignore[arg-type]
        assert answer.status_code == 401
        # A client that sent Basic, readable or not, is challenged as Basic.
        sent_basic = "Authorization" in kwargs.get("headers", {})  # type: ignore[operator]
        expected = 'Basic realm="api"' if sent_basic else "Token"
        assert answer.headers["www-authenticate"] == expected
        assert answer.json() == {"error": "Invalid username or password."}


class TestTokenUse:
    @pytest.mark.parametrize("keyword", ["Token", "token", "TOKEN", "Bearer"])
    def test_post_logout_with_authorization_header(
        self, server: RunningServer, account: None, keyword: str
    ) -> None:
        token = thr_login(server)
        with server.client() as client:
            answer = client.post("/api/logout", headers={"Authorization": f"{keyword} {token}"})
            assert answer.status_code == 200
            assert answer.json() == {"success": "Successfully logged out."}
            again = client.post("/api/logout", headers={"Authorization": f"Token {token}"})
        assert again.status_code == 401
        assert again.json() == NEED_LOGIN
        assert again.headers["www-authenticate"] == "Token"

    def test_get_logout_with_legacy_headers(self, server: RunningServer, account: None) -> None:
        token = thr_login(server)
        with server.client() as client:
            answer = client.get(
                "/api/user/logout", headers={"User": "exampleuser", "Auth-Token": token}
            )
        assert answer.status_code == 200
        assert answer.json() == {"message": "Successfully logged out"}

    def test_legacy_user_must_own_the_token(self, server: RunningServer, account: None) -> None:
        add_account(server.settings, "other@email.com", username="other")
        token = thr_login(server)
        with server.client() as client:
            refused = client.get("/api/logout", headers={"User": "other", "Auth-Token": token})
            assert refused.status_code == 401
            # The token is untouched by the refused call.
            ok = client.get("/auth/profile", headers={"X-Session-Token": token})
        assert ok.status_code == 200

    @pytest.mark.parametrize(
        "headers",
        [
            {},
            {"Authorization": "Token"},
            {"Authorization": "Token bogus"},
            {"Authorization": "Basic abc"},
            {"Auth-Token": "bogus"},
        ],
    )
    def test_missing_or_bad_token_is_401(
        self, server: RunningServer, headers: dict[str, str]
    ) -> None:
        with server.client() as client:
            answer = client.post("/api/logout", headers=headers)
        assert answer.status_code == 401
        assert answer.json() == NEED_LOGIN

    def test_one_session_store_for_both_dialects(
        self, server: RunningServer, account: None
    ) -> None:
        thr_token = thr_login(server)
        with server.client() as client:
            profile = client.get("/auth/profile", headers={"X-Session-Token": thr_token})
            assert profile.status_code == 200
            assert profile.json()["email"] == "user@email.com"
            bio_token = client.post(
                "/auth/login", json={"login": "exampleuser", "password": PASSWORD}
            ).json()["sessid"]
            assert (
                client.post(
                    "/api/logout", headers={"Authorization": f"Token {bio_token}"}
                ).status_code
                == 200
            )
            assert (
                client.get("/auth/profile", headers={"X-Session-Token": bio_token}).status_code
                == 401
            )
            # Logging one session out leaves the user's other sessions alone.
            assert (
                client.get("/auth/profile", headers={"X-Session-Token": thr_token}).status_code
                == 200
            )
