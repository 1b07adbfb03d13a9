"""A spent activation link offers a new one; a dead reset link says so at once; the
reset mail says how long its link lasts."""

from __future__ import annotations

from tests.support import PASSWORD, RunningServer, add_account
from tests.web.conftest import SiteFactory, csrf_of, mailed_reset_link, submit


def register(site: RunningServer) -> str:
    with site.client() as client:
        answer = submit(
            client,
            "/account/register",
            name="Ada Lovelace",
            email="ada@example.org",
            password=PASSWORD,
        )
        assert answer.status_code == 303, answer.text
    return site.wait_for_mail("ada@example.org", "Activation").link


class TestNewActivationLink:
    def test_a_used_link_offers_a_new_one(self, site: RunningServer) -> None:
        link = register(site)
        with site.client() as client:
            client.post(link, data={"csrf_token": csrf_of(client.get(link))})
            again = client.get(link)
        assert again.status_code == 400
        assert 'href="/account/activation/resend">Send me a new link' in again.text

    def test_a_pending_address_gets_a_new_link_that_works(self, site: RunningServer) -> None:
        old_link = register(site)
        with site.client() as client:
            answer = submit(client, "/account/activation/resend", email="ada@example.org")
            assert answer.headers["location"] == "/account/activation/resend/check-mail"
            told = client.get(answer.headers["location"]).text
        assert "If an account with that address waits for activation" in told
        new_link = site.wait_for_mail("ada@example.org", "Activation").link
        assert new_link != old_link
        with site.client() as client:
            assert client.get(old_link).status_code == 400  # the newer key voids the older
            done = client.post(new_link, data={"csrf_token": csrf_of(client.get(new_link))})
        assert "Account activated" in done.text

    def test_the_answer_is_alike_for_every_address(self, site: RunningServer) -> None:
        register(site)
        add_account(site.settings, "active@example.org")
        answers = []
        for email in ("ada@example.org", "active@example.org", "nobody@example.org"):
            with site.client() as client:
                answer = submit(client, "/account/activation/resend", email=email)
                answers.append((answer.status_code, answer.headers["location"]))
        assert len(set(answers)) == 1
        site.wait_for_mail("ada@example.org", "Activation")
        assert not [m for m in site.mails() if m.to != "ada@example.org"]

    def test_a_malformed_address_is_said_beside_the_field(self, site: RunningServer) -> None:
        with site.client() as client:
            page = submit(client, "/account/activation/resend", email="nowhere")
        assert page.status_code == 400 and 'id="email-error"' in page.text


class TestDeadResetLink:
    def test_says_so_before_asking_for_a_password(self, site: RunningServer) -> None:
        with site.client() as client:
            page = client.get("/account/password/reset/no-such-key")
        assert page.status_code == 400
        assert "already been used or has expired" in page.text
        assert 'name="password"' not in page.text
        assert 'href="/account/password/forgot">Send me a new link' in page.text

    def test_a_live_link_still_asks_and_stays_live(self, site: RunningServer) -> None:
        add_account(site.settings, "ada@example.org", username="ada")
        link = mailed_reset_link(site)
        with site.client() as client:
            page = client.get(link)
            assert page.status_code == 200 and 'name="password"' in page.text
            assert 'data-names="ada ada"' in page.text  # what the script warns about
            assert client.get(link).status_code == 200


def test_the_reset_mail_says_how_long_its_link_lasts(make_site: SiteFactory) -> None:
    site = make_site(reset_key_lifetime_seconds=2 * 3600)
    add_account(site.settings, "ada@example.org")
    with site.client() as client:
        submit(client, "/account/password/forgot", email="ada@example.org")
    mail = site.wait_for_mail("ada@example.org", "Reset")
    assert "The link works once, for 2 hours." in mail.text
    assert "The link works once, for 2 hours." in mail.html
