"""GET/POST /account/activate/{key} for an e-mail change's key: the pages confirm it when
no front end of the registry is configured."""

from __future__ import annotations

from tests.http.test_email_change import ask_for, profile_of, sign_in
from tests.support import add_account
from tests.web.conftest import SiteFactory, csrf_of


def test_the_link_opens_a_page_whose_button_changes_the_address(make_site: SiteFactory) -> None:
    site = make_site(require_activation=False)
    add_account(site.settings, "user@email.com", username="exampleuser")
    auth = str(sign_in(site, "exampleuser").json()["auth_token"])
    assert ask_for(site, auth, "paged@example.org").status_code == 200
    link = site.wait_for_mail("paged@example.org", "Verify your new email").link
    assert link.startswith(f"{site.url}/account/activate/")
    with site.client() as client:
        page = client.get(link)  # opening the link changes nothing: mail scanners fetch it
        assert page.status_code == 200
        assert profile_of(site, auth)["email"] == "user@email.com"
        done = client.post(link, data={"csrf_token": csrf_of(page)})
        again = client.get(link)
    assert done.status_code == 200
    assert "E-mail address changed" in done.text
    assert profile_of(site, auth)["email"] == "paged@example.org"
    assert again.status_code == 400
