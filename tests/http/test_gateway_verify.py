"""GET /auth/verify: forward-auth for the proxies in front of the portal's services."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from portcullis.config import Settings
from tests.conftest import MakeServer, SettingsFactory
from tests.support import RunningServer, add_account, grant, login

ANN = "ann@example.org"


@pytest.fixture
def ann(settings: Settings) -> None:
    add_account(settings, ANN, username="ann")
    grant(settings, ANN, "S-BSST1")


def verify(server: RunningServer, method: str = "GET", **kwargs: object) -> httpx.Response:
    with server.client() as client:
        return client.request(method, "/auth/verify", **kwargs)  # type: ignore[arg-type]


def token_of(server: RunningServer) -> str:
    with server.client() as client:
        return login(client, ANN)


class TestEveryTokenForm:
    @pytest.mark.parametrize(
        "form",
        [
            "x-session-token",
            "token",
            "bearer",
            "auth-token",
            "auth_token",
            "cookie",
            "page",
            "query",
        ],
    )
    def test_each_form_answers_200_with_the_identity(
        self, server: RunningServer, ann: None, form: str
    ) -> None:
        token = token_of(server)
        headers = {
            "x-session-token": {"X-Session-Token": token},
            "token": {"Authorization": f"Token {token}"},
            "bearer": {"Authorization": f"Bearer {token}"},
            "auth-token": {"Auth-Token": token, "User": "ann"},
            "auth_token": {"auth_token": token},
            "cookie": {"Cookie": f"BIOSTDSESS-PROD={token}"},
            "page": {"Cookie": f"portcullis-session={token}"},
            "query": {"X-Original-URI": f"/files/a?BIOSTDSESS={token}"},
        }[form]
        answer = verify(server, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.content == b""
        assert answer.headers["x-portcullis-email"] == ANN
        assert answer.headers["x-portcullis-username"] == "ann"
        assert answer.headers["x-portcullis-superuser"] == "false"
        assert answer.headers["x-portcullis-allow"] == "S-BSST1"
        assert answer.headers["x-portcullis-token-kind"] == "session"
        assert answer.headers["x-portcullis-user-id"].isdigit()
        assert answer.headers["x-portcullis-session-id"]
        assert answer.headers["cache-control"] == "no-store"

    def test_any_method_is_answered(self, server: RunningServer, ann: None) -> None:
        token = token_of(server)
        for method in ("POST", "PUT", "DELETE", "HEAD", "PATCH"):
            answer = verify(server, method, headers={"X-Session-Token": token})
            assert answer.status_code == 200, method

    def test_a_legacy_user_naming_someone_else_is_refused(
        self, server: RunningServer, ann: None
    ) -> None:
        answer = verify(server, headers={"Auth-Token": token_of(server), "User": "bob"})
        assert answer.status_code == 401


class TestRefused:
    def test_no_token_is_401_with_a_bearer_challenge(self, server: RunningServer) -> None:
        answer = verify(server)
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == 'Bearer realm="portcullis"'
        assert not any(name.startswith("x-portcullis") for name in answer.headers)

    def test_the_challenge_follows_the_scheme_used(self, server: RunningServer) -> None:
        token_answer = verify(server, headers={"Authorization": "Token nope"})
        bearer_answer = verify(server, headers={"Authorization": "Bearer nope"})
        assert token_answer.headers["www-authenticate"].startswith("Token ")
        assert bearer_answer.headers["www-authenticate"].startswith("Bearer ")
        assert 'error="invalid_token"' in bearer_answer.headers["www-authenticate"]

    def test_a_signed_out_token_is_refused_at_once(self, server: RunningServer, ann: None) -> None:
        token = token_of(server)
        with server.client() as client:
            client.post("/auth/logout", headers={"X-Session-Token": token})
        assert verify(server, headers={"X-Session-Token": token}).status_code == 401

    def test_a_cookie_on_a_cross_site_state_change_is_refused(
        self, server: RunningServer, ann: None
    ) -> None:
        cookie = {"Cookie": f"BIOSTDSESS-PROD={token_of(server)}"}
        foreign = verify(
            server, headers={**cookie, "X-Forwarded-Method": "POST", "Origin": "https://evil.test"}
        )
        assert foreign.status_code == 403
        assert verify(server, headers={**cookie, "X-Forwarded-Method": "GET"}).status_code == 200

    def test_an_overlong_or_odd_token_is_401_not_500(self, server: RunningServer) -> None:
        for token in (b"x" * 5000, "é".encode(), b"a b"):
            assert verify(server, headers={"X-Session-Token": token}).status_code == 401


class TestTags:
    def test_a_missing_allow_tag_is_403(self, server: RunningServer, ann: None) -> None:
        token = {"X-Session-Token": token_of(server)}
        assert verify(server, params={"allow": "S-BSST1"}, headers=token).status_code == 200
        assert verify(server, params={"allow": "S-OTHER"}, headers=token).status_code == 403

    def test_path_rules_apply_by_prefix_even_through_dot_segments(
        self, settings_for: SettingsFactory, make_server: MakeServer
    ) -> None:
        settings = settings_for(gateway_rules={"/private/": ["S-SECRET"], "/open/": []})
        add_account(settings, ANN)
        server = make_server(settings)
        token = {"X-Session-Token": token_of(server)}
        for uri, status in [
            ("/open/file", 200),
            ("/private/file", 403),
            ("/private", 403),
            ("/open/../private/file", 403),
            ("/open/%2e%2e/private/file", 403),
            ("//private//file", 403),
        ]:
            answer = verify(server, headers={**token, "X-Forwarded-Uri": uri})
            assert answer.status_code == status, uri
        grant(settings, ANN, "S-SECRET")
        answer = verify(server, headers={**token, "X-Original-URI": "/private/file"})
        assert answer.status_code == 200


class TestRedirect:
    def test_only_when_asked(self, server: RunningServer) -> None:
        assert verify(server, params={"redirect": "1"}).status_code == 302
        assert verify(server).status_code == 401

    def test_the_return_address_is_kept_on_a_trusted_origin(
        self, settings_for: SettingsFactory, make_server: MakeServer
    ) -> None:
        settings = settings_for(
            public_url="https://auth.portal.test",
            instances={"ui": "https://portal.test/activate"},
        )
        server = make_server(settings)
        headers = {
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "portal.test",
            "X-Forwarded-Uri": "/files/a?x=1",
        }
        answer = verify(server, params={"redirect": "1"}, headers=headers)
        location = urlsplit(answer.headers["location"])
        assert (location.scheme, location.netloc, location.path) == (
            "https",
            "auth.portal.test",
            "/account/signin",
        )
        assert parse_qs(location.query)["next"] == ["https://portal.test/files/a?x=1"]

    @pytest.mark.parametrize(
        "back",
        [
            "https://evil.test/",
            "//evil.test/",
            "https://portal.test@evil.test/",
            "https://evil.test\\@portal.test/",
            "javascript:alert(1)",
            "https://portal.test.evil.test/",
        ],
    )
    def test_never_an_open_redirect(
        self, settings_for: SettingsFactory, make_server: MakeServer, back: str
    ) -> None:
        settings = settings_for(instances={"ui": "https://portal.test/activate"})
        server = make_server(settings)
        answer = verify(server, params={"redirect": "1", "rd": back})
        assert answer.status_code == 302
        assert "next" not in answer.headers["location"]
        assert answer.headers["location"].startswith(settings.public_url)


class TestBehindCors:
    def test_a_proxied_origin_takes_no_cors_path(
        self, settings_for: SettingsFactory, make_server: MakeServer
    ) -> None:
        # nginx's subrequest carries the browser's Origin; forward-auth answers it as any.
        settings = settings_for(cors_origins=["https://app.test"])
        add_account(settings, ANN)
        server = make_server(settings)
        token = {"X-Session-Token": token_of(server)}
        for origin in ("https://app.test", "https://elsewhere.test"):
            answer = verify(server, headers={**token, "Origin": origin})
            assert answer.status_code == 200, origin
            assert "access-control-allow-origin" not in answer.headers


def test_a_rule_that_names_no_path_stops_the_service_at_start(
    settings_for: SettingsFactory,
) -> None:
    with pytest.raises(ValueError, match="path prefix"):
        settings_for(gateway_rules={"private": ["S-1"]})
