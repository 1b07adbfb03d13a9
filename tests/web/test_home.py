"""GET /, /favicon.ico and the optional logo: what a person meets first."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from portcullis.config import Settings
from tests.support import PASSWORD, RunningServer, add_account
from tests.web.conftest import SiteFactory, sign_in


def test_the_root_leads_a_browser_to_sign_in(site: RunningServer) -> None:
    with site.client(follow_redirects=True) as client:
        answer = client.get("/")
    assert answer.status_code == 200
    assert answer.url.path == "/account/signin"


def test_the_root_leads_a_signed_in_browser_to_the_profile(site: RunningServer) -> None:
    add_account(site.settings, "ada@example.org", full_name="Ada Lovelace")
    with site.client() as client:
        sign_in(client, "ada@example.org", PASSWORD)
        first = client.get("/")
        assert first.status_code == 303 and first.headers["location"] == "/account/"
        answer = client.get("/", follow_redirects=True)
    assert answer.url.path == "/account/profile"
    assert "Ada Lovelace" in answer.text


def test_the_icon_is_served_and_named_by_every_page(site: RunningServer) -> None:
    with site.client() as client:
        icon = client.get("/favicon.ico")
        page = client.get("/account/signin")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO header
    assert '<link rel="icon" href="/favicon.ico"' in page.text


def test_no_logo_unless_one_is_set(site: RunningServer) -> None:
    with site.client() as client:
        page = client.get("/account/signin")
    assert 'class="logo"' not in page.text
    assert "img-src 'self';" in page.headers["content-security-policy"]


def test_a_logo_elsewhere_is_shown_and_allowed_by_the_policy(make_site: SiteFactory) -> None:
    site = make_site(logo_url="https://cdn.example.org/brand/logo.svg")
    with site.client() as client:
        page = client.get("/account/signin")
    assert '<img class="logo" src="https://cdn.example.org/brand/logo.svg" alt="">' in page.text
    policy = page.headers["content-security-policy"]
    assert "img-src 'self' https://cdn.example.org;" in policy


def test_a_logo_on_this_site_needs_nothing_more_from_the_policy(make_site: SiteFactory) -> None:
    site = make_site(logo_url="/static/logo.png")
    with site.client() as client:
        page = client.get("/account/signin")
    assert 'src="/static/logo.png"' in page.text
    assert "img-src 'self';" in page.headers["content-security-policy"]


@pytest.mark.parametrize(
    "url",
    [
        "http://cdn.example.org/logo.png",
        "//cdn.example.org/x.png",
        "javascript:alert(1)",
        "https://a.example/x.png; script-src *",
        "logo.png",
    ],
)
def test_a_logo_address_the_policy_could_not_hold_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="logo_url"):
        Settings(logo_url=url)
