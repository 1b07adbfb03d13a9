"""CSRF refusal, the page headers, and errors under /account as pages."""

from __future__ import annotations

import re

import pytest

from tests.support import PASSWORD, RunningServer, add_account
from tests.web.conftest import SiteFactory, csrf_of, sign_in, submit

PAGES = [
    "/account/signin",
    "/account/register",
    "/account/password/forgot",
    "/account/password/reset/some-key",
    "/account/activate/some-key",
    "/account/register/check-mail",
    "/account/password/forgot/check-mail",
    "/account/no-such-page",
]
FORMS = [
    "/account/signin",
    "/account/signout",
    "/account/register",
    "/account/password/forgot",
    "/account/password/reset/some-key",
    "/account/profile/password",
    "/account/sessions/end-all",
    "/account/sessions/abc/end",
]


class TestCsrf:
    @pytest.mark.parametrize("action", FORMS)
    def test_every_form_refuses_a_post_without_the_token(
        self, site: RunningServer, action: str
    ) -> None:
        with site.client() as client:
            client.get("/account/signin")  # has the nonce cookie, not the field
            answer = client.post(action, data={"login": "x", "password": "y"})
        assert answer.status_code == 403
        assert "nothing was done" in answer.text
        assert answer.headers["content-type"].startswith("text/html")

    def test_a_token_from_another_browser_is_refused(self, site: RunningServer) -> None:
        add_account(site.settings, "ada@example.org")
        with site.client() as attacker, site.client() as victim:
            token = csrf_of(attacker.get("/account/signin"))
            victim.get("/account/signin")
            answer = victim.post(
                "/account/signin",
                data={"csrf_token": token, "login": "ada@example.org", "password": PASSWORD},
            )
        assert answer.status_code == 403

    def test_a_signed_in_browser_is_not_signed_out_by_a_cross_site_post(
        self, site: RunningServer
    ) -> None:
        add_account(site.settings, "ada@example.org")
        with site.client() as client:
            sign_in(client, "ada@example.org", PASSWORD)
            assert client.post("/account/sessions/end-all", data={}).status_code == 403
            assert client.get("/account/profile").status_code == 200


class TestHeaders:
    @pytest.mark.parametrize("path", PAGES)
    def test_every_page_has_the_policy(self, site: RunningServer, path: str) -> None:
        with site.client() as client:
            answer = client.get(path)
        assert answer.headers["content-type"].startswith("text/html")
        policy = answer.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy
        assert answer.headers.get_list("referrer-policy") == ["no-referrer"]
        assert answer.headers["cache-control"] == "no-store"
        # Script only from this site's own file, never inline; no inline style.
        scripts = re.findall(r"<script[^>]*>", answer.text)
        assert scripts == ['<script src="/account/static/portcullis.js" defer>']
        assert "style=" not in answer.text and not re.search(r"<[^>]+ on[a-z]+=", answer.text)

    def test_no_external_resources(self, site: RunningServer) -> None:
        with site.client() as client:
            page = client.get("/account/signin").text
            css = client.get("/account/static/portcullis.css")
        assert "http://" not in page and "https://" not in page
        assert css.status_code == 200 and "url(" not in css.text

    def test_brand_from_settings(self, make_site: SiteFactory) -> None:
        site = make_site(product_name="BioStudies", brand_color="#123abc")
        with site.client() as client:
            assert "<title>Sign in · BioStudies</title>" in client.get("/account/signin").text
            assert "--brand: #123abc;" in client.get("/account/theme.css").text


class TestErrorPages:
    def test_not_found_is_a_page(self, site: RunningServer) -> None:
        with site.client() as client:
            answer = client.get("/account/no-such-page")
        assert answer.status_code == 404
        assert "<h1>Page not found</h1>" in answer.text

    def test_unexpected_error_is_a_page(self, site: RunningServer) -> None:
        add_account(site.settings, "ada@example.org")

        async def broken(account_id: int, limit: int, cursor: str | None = None) -> None:
            raise RuntimeError("boom")

        with site.client() as client:
            sign_in(client, "ada@example.org", PASSWORD)
            site.app.state.services.sessions.page = broken
            answer = client.get("/account/profile")
        assert answer.status_code == 500
        assert "Something went wrong on our side" in answer.text and "boom" not in answer.text
        assert "default-src 'self'" in answer.headers["content-security-policy"]

    def test_api_errors_stay_json(self, site: RunningServer) -> None:
        with site.client() as client:
            assert client.get("/auth/nope").status_code == 404
            assert client.get("/auth/profile").json()["status"] == "FAIL"


class TestRateLimits:
    def test_page_forms_spend_the_same_per_address_budgets_as_the_api(
        self, make_site: SiteFactory
    ) -> None:
        # Per hour, not minute: the sliding window floors its weighted count, so a window
        # boundary passed between the hits (as a slow run did) forgave one.
        site = make_site(rate_limit_register="2/hour", rate_limit_login="2/hour")
        fields = {"name": "Page User", "email": "p@example.org", "password": "x"}
        with site.client() as client:
            # The API spends one of the two registrations; the page form the other.
            client.post(
                "/auth/register", json={**fields, "instanceKey": "default", "path": "activate"}
            )
            submit(client, "/account/register", **fields)
            held = submit(client, "/account/register", **fields)
            assert held.status_code == 429
            assert held.headers["content-type"].startswith("text/html")
            assert int(held.headers["retry-after"]) > 0
            # Showing the forms costs nothing; sending them does.
            assert client.get("/account/signin").status_code == 200
            assert client.get("/account/signin").status_code == 200
            for _ in range(2):
                submit(client, "/account/signin", login="p@example.org", password="wrong!")
            assert (
                submit(
                    client, "/account/signin", login="p@example.org", password="wrong!"
                ).status_code
                == 429
            )
