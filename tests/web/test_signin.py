"""GET/POST /account/signin, POST /account/signout: the browser session cookie."""

from __future__ import annotations

from portcullis.core.errors import TooManyAttempts
from portcullis.core.models import Client, IssuedSession
from tests.support import PASSWORD, RunningServer, add_account
from tests.web.conftest import SiteFactory, csrf_of, sign_in, submit


def profile_status(server: RunningServer, token: str) -> int:
    with server.client() as api:
        return api.get("/auth/profile", headers={"X-Session-Token": token}).status_code


class TestSignIn:
    def test_page_has_labelled_inputs(self, site: RunningServer) -> None:
        with site.client() as client:
            page = client.get("/account/signin")
        assert page.status_code == 200
        assert '<label for="login">' in page.text and 'id="login"' in page.text
        assert '<label for="password">' in page.text and 'id="password"' in page.text
        assert "Portcullis" in page.text

    def test_by_username_or_email_opens_a_normal_session(self, site: RunningServer) -> None:
        add_account(site.settings, "ada@example.org", username="ada")
        for login in ("ada", "ADA@example.org"):
            with site.client() as client:
                answer = sign_in(client, login, PASSWORD)
                assert answer.headers["location"] == "/account/profile"
                token = client.cookies["portcullis-session"]
                assert profile_status(site, token) == 200
                assert "ada@example.org" in client.get("/account/profile").text

    def test_a_null_character_is_refused_in_words_on_any_database(
        self, site: RunningServer
    ) -> None:
        add_account(site.settings, "ada@example.org")
        with site.client() as client:
            answer = submit(client, "/account/signin", login="ada\x00@example.org", password="x")
            assert answer.status_code == 400
            assert "Null characters are not allowed." in answer.text
            assert sign_in(client, "ada@example.org", PASSWORD).status_code == 303

    def test_wrong_password_is_said_in_plain_words(self, site: RunningServer) -> None:
        add_account(site.settings, "ada@example.org")
        with site.client() as client:
            answer = submit(
                client, "/account/signin", login="ada@example.org", password="not the password"
            )
        assert answer.status_code == 401
        assert "The e-mail address, username or password is wrong." in answer.text
        assert 'value="ada@example.org"' in answer.text
        assert "portcullis-session" not in answer.headers.get("set-cookie", "")

    def test_lockout_is_said_with_the_wait(self, site: RunningServer) -> None:
        async def locked(login: str, password: str, client: Client) -> IssuedSession:
            raise TooManyAttempts(150)

        site.app.state.services.login = locked
        with site.client() as client:
            answer = submit(client, "/account/signin", login="ada", password=PASSWORD)
        assert answer.status_code == 429
        assert "Too many attempts" in answer.text and "3 minutes" in answer.text


class TestCookie:
    def test_flags_for_plain_http_development(self, site: RunningServer) -> None:
        add_account(site.settings, "ada@example.org")
        with site.client() as client:
            cookie = sign_in(client, "ada@example.org", PASSWORD).headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/account" in cookie
        assert "secure" not in cookie

    def test_secure_by_default(self, make_site: SiteFactory) -> None:
        site = make_site(cookie_secure=True)
        add_account(site.settings, "ada@example.org")
        with site.client() as client:
            page = client.get("/account/signin")
            assert "secure" in page.headers["set-cookie"].lower()  # the CSRF cookie too
            # httpx keeps Secure cookies off plain HTTP; send the CSRF nonce by hand.
            nonce = page.cookies["portcullis-csrf"]
            answer = client.post(
                "/account/signin",
                data={
                    "csrf_token": csrf_of(page),
                    "login": "ada@example.org",
                    "password": PASSWORD,
                },
                headers={"Cookie": f"portcullis-csrf={nonce}"},
            )
        assert answer.status_code == 303
        cookie = answer.headers["set-cookie"].lower()
        assert cookie.startswith("portcullis-session=")
        assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie


class TestSignOut:
    def test_ends_the_session_and_clears_the_cookie(self, site: RunningServer) -> None:
        add_account(site.settings, "ada@example.org")
        with site.client() as client:
            sign_in(client, "ada@example.org", PASSWORD)
            token = client.cookies["portcullis-session"]
            answer = submit(client, "/account/profile", "/account/signout")
            assert answer.status_code == 303
            assert answer.headers["location"] == "/account/signin?done=signed-out"
            assert "portcullis-session" not in client.cookies
            assert "You are signed out." in client.get(answer.headers["location"]).text
        assert profile_status(site, token) == 401
