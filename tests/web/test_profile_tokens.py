"""Access tokens on the profile page: made (shown once), listed, revoked."""

from __future__ import annotations

import re

import pytest

from tests.support import PASSWORD, RunningServer, add_account
from tests.web.conftest import SiteFactory, sign_in, submit

TOKEN = re.compile(r'<code class="token">(pcpat_[A-Za-z0-9_-]+)</code>')


@pytest.fixture
def ada(site: RunningServer) -> None:
    add_account(site.settings, "ada@example.org", username="ada")


def test_a_token_made_on_the_page_is_shown_once_and_works(site: RunningServer, ada: None) -> None:
    with site.client() as client:
        sign_in(client, "ada", PASSWORD)
        made = submit(
            client,
            "/account/profile",
            "/account/tokens",
            name="laptop sync",
            scope="full",
            days="30",
        )
        assert made.status_code == 200, made.text
        found = TOKEN.search(made.text)
        assert found, made.text
        token = found.group(1)
        again = client.get("/account/profile")
        assert "laptop sync" in again.text and "(full)" in again.text and token not in again.text
        verified = client.get("/auth/verify", headers={"Authorization": f"Bearer {token}"})
        assert verified.status_code == 200
        assert "last used never" not in client.get("/account/profile").text

        token_id = re.search(r'action="/account/tokens/([^"/]+)/revoke"', again.text)
        assert token_id
        revoked = submit(client, "/account/profile", f"/account/tokens/{token_id.group(1)}/revoke")
        assert revoked.status_code == 303
        assert (
            client.get("/auth/verify", headers={"Authorization": f"Bearer {token}"}).status_code
            == 401
        )


def test_bad_values_are_told_on_the_page(site: RunningServer, ada: None) -> None:
    with site.client() as client:
        sign_in(client, "ada", PASSWORD)
        for fields in (
            {"name": "", "scope": "read"},
            {"name": "x", "scope": "admin"},
            {"name": "x", "scope": "read", "days": "100000"},
        ):
            answer = submit(client, "/account/profile", "/account/tokens", **fields)
            assert answer.status_code == 400, fields
            assert "pcpat_" not in answer.text


class TestReturnAfterSignIn:
    """Forward-auth's ?redirect=1 sends the browser to sign in with ``next``."""

    def test_back_to_a_trusted_address(self, make_site: SiteFactory) -> None:
        site = make_site(instances={"ui": "https://portal.test/activate"})
        add_account(site.settings, "ada@example.org", username="ada")
        with site.client() as client:
            page = "/account/signin?next=https%3A%2F%2Fportal.test%2Ffiles%2Fa"
            answer = submit(
                client,
                page,
                "/account/signin",
                login="ada",
                password=PASSWORD,
                next="https://portal.test/files/a",
            )
            assert answer.status_code == 303
            assert answer.headers["location"] == "https://portal.test/files/a"
            assert 'name="next" value="https://portal.test/files/a"' in client.get(page).text

    def test_never_elsewhere(self, site: RunningServer, ada: None) -> None:
        with site.client() as client:
            answer = submit(
                client,
                "/account/signin?next=https%3A%2F%2Fevil.test%2F",
                "/account/signin",
                login="ada",
                password=PASSWORD,
                next="https://evil.test/",
            )
            assert answer.status_code == 303
            assert answer.headers["location"] == "/account/profile"
            assert "evil.test" not in client.get("/account/signin?next=https://evil.test/").text
