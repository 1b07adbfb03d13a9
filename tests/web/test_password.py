"""/account/password/forgot (and check-mail), /account/password/reset/{key}."""

from __future__ import annotations

from tests.support import PASSWORD, RunningServer, add_account
from tests.web.conftest import sign_in, submit

NEW_PASSWORD = "another sturdy passphrase"


class TestForgot:
    def test_same_words_whether_or_not_the_address_is_known(self, site: RunningServer) -> None:
        add_account(site.settings, "ada@example.org")
        pages = []
        for email in ("ada@example.org", "nobody@example.org"):
            with site.client() as client:
                answer = submit(client, "/account/password/forgot", email=email)
                assert answer.status_code == 303
                pages.append(client.get(answer.headers["location"]).text)
        assert pages[0] == pages[1]
        assert "If an account uses that address" in pages[0]
        assert site.wait_for_mail("ada@example.org", "Reset").link.startswith(
            f"{site.url}/account/password/reset/"
        )

    def test_a_malformed_address_is_said(self, site: RunningServer) -> None:
        with site.client() as client:
            answer = submit(client, "/account/password/forgot", email="no-at-sign")
        assert answer.status_code == 400
        assert "The provided email is not valid" in answer.text


class TestReset:
    def reset_link(self, site: RunningServer) -> str:
        add_account(site.settings, "ada@example.org", username="monkey")
        with site.client() as client:
            submit(client, "/account/password/forgot", email="ada@example.org")
        return site.wait_for_mail("ada@example.org", "Reset").link

    def test_rules_shown_then_signed_out_everywhere(self, site: RunningServer) -> None:
        link = self.reset_link(site)
        with site.client() as old, site.client() as client:
            sign_in(old, "monkey", PASSWORD)
            page = client.get(link)
            assert "At least 8 characters" in page.text
            answer = submit(client, link, password=NEW_PASSWORD)
            assert answer.status_code == 303
            notice = client.get(answer.headers["location"]).text
            assert "signed out everywhere" in notice and "please sign in" in notice
            assert old.get("/account/profile").headers["location"] == "/account/signin"
            sign_in(client, "monkey", NEW_PASSWORD)

    def test_every_failed_rule_at_once_and_the_link_still_works(self, site: RunningServer) -> None:
        link = self.reset_link(site)
        with site.client() as client:
            answer = submit(client, link, password="monkey")
            assert answer.status_code == 400
            assert "at least 8 characters" in answer.text
            assert "too common" in answer.text
            assert "must not contain your e-mail name or username" in answer.text
            assert submit(client, link, password=NEW_PASSWORD).status_code == 303

    def test_a_used_link_says_so(self, site: RunningServer) -> None:
        link = self.reset_link(site)
        with site.client() as client:
            submit(client, link, password=NEW_PASSWORD)
            answer = client.get(link)  # said before a password is asked for
        assert answer.status_code == 400 and 'name="password"' not in answer.text
        assert "already been used or has expired" in answer.text
        assert "/account/password/forgot" in answer.text
