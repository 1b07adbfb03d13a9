"""Opening a mailed link (GET or HEAD, as mail scanners do) changes nothing; its page's
form, a POST with the CSRF token, does. The key budget counts HEAD as it counts GET."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.support import PASSWORD, RunningServer
from tests.web.conftest import (
    SiteFactory,
    csrf_of,
    mailed_reset_link,
    mailed_setup_link,
    sign_in,
    submit,
)

ADA = {"name": "Ada Lovelace", "email": "ada@example.org", "password": PASSWORD}
NEW_PASSWORD = "another sturdy passphrase"


def activation_link(site: RunningServer) -> str:
    with site.client() as client:
        assert submit(client, "/account/register", **ADA).status_code == 303
    return site.wait_for_mail("ada@example.org", "Activation").link


def can_sign_in(site: RunningServer, password: str = PASSWORD) -> bool:
    with site.client() as api:
        answer = api.post("/auth/login", json={"login": "ada@example.org", "password": password})
    return answer.status_code == 200


def scan(site: RunningServer, link: str) -> None:
    """What a mail scanner does with a link: fetch it, with and without cookies."""
    with site.client() as scanner:
        for _ in range(2):
            assert scanner.head(link).status_code == 200
            assert scanner.get(link).status_code == 200
    assert httpx.head(link).status_code == 200
    assert httpx.get(link).status_code == 200


class TestActivation:
    def test_opening_the_link_asks_for_a_click_and_leaves_the_account_pending(
        self, site: RunningServer
    ) -> None:
        link = activation_link(site)
        scan(site, link)
        assert not can_sign_in(site)
        with site.client() as person:
            page = person.get(link)
            assert "Activate my account" in page.text and 'method="post"' in page.text
            done = person.post(link, data={"csrf_token": csrf_of(page)})
            assert done.status_code == 200 and "Account activated" in done.text
            sign_in(person, "ada@example.org", PASSWORD)
        assert can_sign_in(site)

    @pytest.mark.parametrize("case", ["missing", "empty", "wrong", "another browser's"])
    def test_a_post_without_this_browsers_token_is_refused_and_the_key_kept(
        self, site: RunningServer, case: str
    ) -> None:
        link = activation_link(site)
        with site.client() as other:
            other_token = csrf_of(other.get(link))
        fields = {
            "missing": {},
            "empty": {"csrf_token": ""},
            "wrong": {"csrf_token": "0" * 64},
            "another browser's": {"csrf_token": other_token},
        }[case]
        with site.client() as person:
            person.get(link)
            refused = person.post(link, data=fields)
            assert refused.status_code == 403 and "nothing was done" in refused.text
            assert not can_sign_in(site)
            assert submit(person, link).status_code == 200
        assert can_sign_in(site)

    def test_head_and_get_spend_the_key_budget(self, make_site: SiteFactory) -> None:
        site = make_site(rate_limit_key="3/hour")
        link = activation_link(site)
        with site.client() as scanner:
            answers = [scanner.head(link), scanner.head(link), scanner.get(link)]
            held = [scanner.head(link), scanner.get(link), scanner.post(link)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert [a.status_code for a in held] == [429, 429, 429]
        assert all(int(a.headers["retry-after"]) > 0 for a in held)
        assert not can_sign_in(site)

    def test_guessed_keys_on_head_are_counted_too(self, make_site: SiteFactory) -> None:
        site = make_site(rate_limit_key="2/hour")
        with site.client() as guesser:
            answers = [guesser.head(f"/account/activate/guess{n}") for n in range(3)]
        assert [a.status_code for a in answers] == [400, 400, 429]


class TestPasswordLinks:
    @pytest.mark.parametrize(
        "mailed", [mailed_reset_link, mailed_setup_link], ids=["reset", "setup"]
    )
    def test_opening_the_link_shows_the_form_and_uses_nothing(
        self, site: RunningServer, mailed: Callable[[RunningServer], str]
    ) -> None:
        activation_link(site)  # a pending account: both kinds of link reach it
        link = mailed(site)
        scan(site, link)
        assert not can_sign_in(site, PASSWORD) and not can_sign_in(site, NEW_PASSWORD)
        with site.client() as person:
            assert submit(person, link, password=NEW_PASSWORD).status_code == 303
        assert can_sign_in(site, NEW_PASSWORD)
