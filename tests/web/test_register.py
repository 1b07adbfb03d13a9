"""GET/POST /account/register, /account/register/check-mail, GET/POST /account/activate/{key}."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support import PASSWORD, RunningServer, add_account
from tests.web.conftest import SiteFactory, sign_in, submit

NEW = {"name": "Ada Lovelace", "email": "ada@example.org", "password": PASSWORD}


def register(client: httpx.Client, **fields: str) -> httpx.Response:
    return submit(client, "/account/register", **{**NEW, **fields})


class TestRegister:
    def test_page_shows_the_password_rules_up_front(self, site: RunningServer) -> None:
        with site.client() as client:
            page = client.get("/account/register")
        assert page.status_code == 200
        assert "At least 8 characters" in page.text
        assert "breached passwords" in page.text
        for field in ("name", "email", "username", "orcid", "password"):
            assert f'<label for="{field}">' in page.text

    def test_then_check_your_mail_and_the_link_opens_the_activation_page(
        self, site: RunningServer
    ) -> None:
        with site.client() as client:
            answer = register(client)
            assert answer.status_code == 303
            assert answer.headers["location"] == "/account/register/check-mail"
            assert "Check your mail" in client.get(answer.headers["location"]).text
            mail = site.wait_for_mail("ada@example.org", "Activation")
            assert mail.link.startswith(f"{site.url}/account/activate/")
            landing = client.get(mail.link)
            assert landing.status_code == 200
            assert "Activate my account" in landing.text
            activated = submit(client, mail.link)
            assert activated.status_code == 200
            assert "Account activated" in activated.text
            sign_in(client, "ada@example.org", PASSWORD)

    def test_a_used_link_says_so(self, site: RunningServer) -> None:
        with site.client() as client:
            register(client)
            link = site.wait_for_mail("ada@example.org").link
            assert submit(client, link).status_code == 200
            opened_again = client.get(link)
            sent_again = submit(client, "/account/signin", link)  # this browser's token
        for again in (opened_again, sent_again):
            assert again.status_code == 400
            assert "already been used or has expired" in again.text

    def test_every_problem_is_listed_at_once_and_values_kept(self, site: RunningServer) -> None:
        with site.client() as client:
            answer = register(client, email="not an address", orcid="123", password="short")
        assert answer.status_code == 400
        assert "The provided email is not valid" in answer.text
        assert "The provided ORCID is not valid" in answer.text
        assert "at least 8 characters" in answer.text
        assert 'value="Ada Lovelace"' in answer.text
        assert "short" not in answer.text.split("<main>")[1].split("rules")[0]

    def test_no_captcha_widget_unless_configured(self, site: RunningServer) -> None:
        with site.client() as client:
            page = client.get("/account/register")
        scripts = re.findall(r"<script[^>]*>", page.text)
        assert scripts == ['<script src="/account/static/portcullis.js" defer>']  # our own only
        assert "data-sitekey" not in page.text
        assert "google" not in page.headers["content-security-policy"]

    def test_captcha_widget_and_its_origins_when_configured(self, make_site: SiteFactory) -> None:
        site = make_site(captcha_secret="s3cret", captcha_site_key="site-key-1")
        with site.client() as client:
            page = client.get("/account/register")
            refused = register(client)
        assert 'data-sitekey="site-key-1"' in page.text
        assert '<script src="https://www.google.com/recaptcha/api.js"' in page.text
        policy = page.headers["content-security-policy"]
        assert "script-src 'self' https://www.google.com https://www.gstatic.com;" in policy
        assert "frame-src https://www.google.com https://www.gstatic.com;" in policy
        assert refused.status_code == 400
        assert "not a robot" in refused.text


class TestRegisterATakenUsername:
    """Answered alike whether or not the name (under case folding and NFKC) is taken."""

    # A fullwidth spelling never gets this far: usernames are ASCII, for anyone.
    @pytest.mark.parametrize("taken", ["alice", "ALICE", "Alice"])
    def test_answered_as_a_new_registration_and_told_by_mail(
        self, site: RunningServer, taken: str
    ) -> None:
        add_account(site.settings, "alice@example.org", username="Alice")
        with site.client() as client:
            fresh = register(client, email="new@example.org", username="brand-new")
            clash = register(client, email="eve@example.org", username=taken)
        assert (clash.status_code, clash.headers.get("location"), clash.content) == (
            fresh.status_code,
            fresh.headers["location"],
            fresh.content,
        )
        assert fresh.headers["location"] == "/account/register/check-mail"
        mail = site.wait_for_mail("eve@example.org", "Registration Attempt")
        assert f'"{taken}"' in mail.text and "belongs to another account" in mail.text
        assert f"&ldquo;{taken}&rdquo;" in mail.html
        with site.client() as client:
            # No account was made for her address: it is free to register.
            eve = register(client, email="eve@example.org", username="eve")
        assert eve.status_code == 303
        site.wait_for_mail("eve@example.org", "Activation")

    def test_said_on_the_page_only_when_the_operator_reveals_registrations(
        self, make_site: SiteFactory
    ) -> None:
        site = make_site(reveal_existing_registration=True)
        add_account(site.settings, "alice@example.org", username="Alice")
        with site.client() as client:
            answer = register(client, email="eve@example.org", username="ALICE")
        assert answer.status_code == 400
        assert "The username is already taken" in answer.text


class TestWithoutRequiredActivation:
    def test_signs_in_at_once_and_the_mailed_link_verifies_the_email(
        self, make_site: SiteFactory
    ) -> None:
        site = make_site(require_activation=False)
        with site.client() as client:
            assert register(client).status_code == 303
            thr = {"username": "ada@example.org", "password": PASSWORD}
            before = client.post("/api/login", data=thr)
            assert before.status_code == 200
            assert before.json()["is_account_activated"] is False
            mail = site.wait_for_mail("ada@example.org", "Verify your email")
            assert submit(client, mail.link).status_code == 200
            after = client.post("/api/login", data=thr)
        assert after.json()["is_account_activated"] is True
