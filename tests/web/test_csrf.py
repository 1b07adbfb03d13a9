"""The pages' CSRF tokens: bound to the signed-in session, renewed at sign-in and sign-out,
and refused (never a 500) when their bytes are not what the server hands out."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx
import pytest

from tests.support import PASSWORD, RunningServer, add_account
from tests.web.conftest import csrf_of, sign_in

CSRF_COOKIE = "portcullis-csrf"
SESSION_COOKIE = "portcullis-session"


@contextlib.contextmanager
def signed_in(site: RunningServer, email: str) -> Iterator[httpx.Client]:
    add_account(site.settings, email)
    with site.client() as client:
        sign_in(client, email, PASSWORD)
        yield client


def is_signed_in(client: httpx.Client) -> bool:
    return client.get("/account/profile").status_code == 200


def end_all_with(site: RunningServer, session: str, nonce: str, token: str) -> httpx.Response:
    """POST sign-out-everywhere with exactly these cookies and this token, nothing else."""
    with site.client() as forger:
        return forger.post(
            "/account/sessions/end-all",
            data={"csrf_token": token},
            headers={"Cookie": f"{SESSION_COOKIE}={session}; {CSRF_COOKIE}={nonce}"},
        )


class TestBoundToTheSession:
    def test_a_signed_in_attackers_cookie_and_token_do_not_work_with_the_victims_session(
        self, site: RunningServer
    ) -> None:
        with signed_in(site, "eve@example.org") as eve, signed_in(site, "ada@example.org") as ada:
            token = csrf_of(eve.get("/account/profile"))
            answer = end_all_with(
                site, ada.cookies[SESSION_COOKIE], eve.cookies[CSRF_COOKIE], token
            )
            assert answer.status_code == 403
            assert "nothing was done" in answer.text
            assert is_signed_in(ada)
            # The same cookie and token with the attacker's own session are good.
            own = end_all_with(site, eve.cookies[SESSION_COOKIE], eve.cookies[CSRF_COOKIE], token)
            assert own.status_code == 303
            assert not is_signed_in(eve)

    def test_a_token_from_before_sign_in_does_not_work_with_a_session(
        self, site: RunningServer
    ) -> None:
        with signed_in(site, "ada@example.org") as ada, site.client() as eve:
            token = csrf_of(eve.get("/account/signin"))
            answer = end_all_with(
                site, ada.cookies[SESSION_COOKIE], eve.cookies[CSRF_COOKIE], token
            )
            assert answer.status_code == 403
            assert is_signed_in(ada)

    def test_the_cookie_and_token_change_at_sign_in_and_the_old_token_is_dead(
        self, site: RunningServer
    ) -> None:
        add_account(site.settings, "ada@example.org")
        with site.client() as client:
            before = csrf_of(client.get("/account/signin"))
            nonce_before = client.cookies[CSRF_COOKIE]
            answer = client.post(
                "/account/signin",
                data={"csrf_token": before, "login": "ada@example.org", "password": PASSWORD},
            )
            assert answer.status_code == 303
            assert CSRF_COOKIE in answer.cookies
            after = csrf_of(client.get("/account/profile"))
            assert client.cookies[CSRF_COOKIE] != nonce_before
            assert after != before
            stale = client.post("/account/sessions/end-all", data={"csrf_token": before})
            assert stale.status_code == 403
            assert is_signed_in(client)

    def test_the_cookie_changes_at_sign_out(self, site: RunningServer) -> None:
        with signed_in(site, "ada@example.org") as client:
            token = csrf_of(client.get("/account/profile"))
            nonce = client.cookies[CSRF_COOKIE]
            answer = client.post("/account/signout", data={"csrf_token": token})
            assert answer.status_code == 303
            assert client.cookies[CSRF_COOKIE] != nonce
            assert csrf_of(client.get("/account/signin")) != token


# Raw bytes, as an attacker sends them: UTF-8 and latin-1 outside ASCII.
ODD_VALUES = [pytest.param("é".encode(), id="utf-8"), pytest.param(b"\xe9", id="latin-1")]


def raw_post(site: RunningServer, cookie: bytes, body: bytes) -> httpx.Response:
    with site.client() as client:
        return client.post(
            "/account/signin",
            content=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": cookie,  # bytes go out as they are
            },
        )


class TestOddBytes:
    @pytest.mark.parametrize("odd", ODD_VALUES)
    def test_in_the_form_field(self, site: RunningServer, odd: bytes) -> None:
        with site.client() as client:
            csrf_of(client.get("/account/signin"))
            nonce = client.cookies[CSRF_COOKIE].encode()
        for token in (odd, b"%C3%A9", b"%E9", b"a" * 63 + odd):
            answer = raw_post(site, CSRF_COOKIE.encode() + b"=" + nonce, b"csrf_token=" + token)
            assert answer.status_code == 403, (token, answer.text)
            assert "nothing was done" in answer.text

    @pytest.mark.parametrize("odd", ODD_VALUES)
    def test_in_the_cookie(self, site: RunningServer, odd: bytes) -> None:
        with site.client() as client:
            token = csrf_of(client.get("/account/signin")).encode()
            nonce = client.cookies[CSRF_COOKIE].encode()
        for cookie in (odd, nonce + odd, odd + nonce):
            answer = raw_post(
                site, CSRF_COOKIE.encode() + b"=" + cookie, b"csrf_token=" + token + odd
            )
            assert answer.status_code == 403, (cookie, answer.text)
            answer = raw_post(site, CSRF_COOKIE.encode() + b"=" + cookie, b"csrf_token=" + token)
            assert answer.status_code == 403, (cookie, answer.text)

    @pytest.mark.parametrize("odd", ODD_VALUES)
    def test_a_page_shown_with_an_odd_cookie_hands_out_a_fresh_one(
        self, site: RunningServer, odd: bytes
    ) -> None:
        with site.client() as client:
            page = client.get(
                "/account/signin", headers={"Cookie": CSRF_COOKIE.encode() + b"=" + odd}
            )
            assert page.status_code == 200
            fresh = page.cookies[CSRF_COOKIE]
            assert fresh.isascii() and fresh.encode() != odd
