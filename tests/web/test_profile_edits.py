"""POST /account/profile/{details,email,delete} and GET /account/profile/data.json."""

from __future__ import annotations

import asyncio
import json

import pytest

from portcullis.core.models import AuditEvent, AuditKind
from portcullis.services import build_services
from tests.support import PASSWORD, RunningServer, add_account, login
from tests.web.conftest import csrf_of, sign_in, submit


@pytest.fixture
def ada(site: RunningServer) -> None:
    add_account(site.settings, "ada@example.org", username="ada", full_name="Ada Lovelace")


def edit(site: RunningServer, **fields: str) -> tuple[int, str, str]:
    """Sign in as ada, send the details form; the answer's status, location and page."""
    with site.client() as client:
        sign_in(client, "ada", PASSWORD)
        answer = submit(client, "/account/profile", "/account/profile/details", **fields)
        return (
            answer.status_code,
            answer.headers.get("location", ""),
            client.get("/account/profile").text,
        )


class TestDetails:
    def test_name_username_and_orcid_are_saved(self, site: RunningServer, ada: None) -> None:
        status, location, page = edit(
            site, name="Augusta Ada King", username="countess", orcid="0000-0002-1825-0097"
        )
        assert (status, location) == (303, "/account/profile?done=saved")
        assert 'value="Augusta Ada King"' in page and 'value="countess"' in page
        assert 'value="0000-0002-1825-0097"' in page
        with site.client() as client:  # the new username signs in; the old one no longer
            sign_in(client, "countess", PASSWORD)
            answer = submit(client, "/account/signin", login="ada", password=PASSWORD)
            assert answer.status_code == 401

    def test_emptied_username_and_orcid_are_removed(self, site: RunningServer, ada: None) -> None:
        edit(site, name="Ada Lovelace", username="ada", orcid="0000-0002-1825-0097")
        status, _, page = edit(site, name="Ada Lovelace", username="", orcid="")
        assert status == 303
        assert 'id="username" name="username" type="text" value=""' in page
        assert 'id="orcid" name="orcid" type="text" value=""' in page

    def test_every_problem_is_said_and_nothing_saved(self, site: RunningServer, ada: None) -> None:
        status, _, _ = edit(site, name="Ada", username="no spaces please", orcid="1234")
        assert status == 400
        with site.client() as client:
            sign_in(client, "ada", PASSWORD)
            answer = submit(
                client,
                "/account/profile",
                "/account/profile/details",
                name="Ada",
                username="no spaces please",
                orcid="1234",
            )
        assert "ORCID" in answer.text and "username" in answer.text.lower()
        assert 'value="no spaces please"' in answer.text  # what was typed stays
        assert 'value="Ada Lovelace"' not in answer.text

    def test_a_username_another_account_holds_is_refused(
        self, site: RunningServer, ada: None
    ) -> None:
        add_account(site.settings, "bob@example.org", username="bob")
        status, _, _ = edit(site, name="Ada Lovelace", username="Bob", orcid="")
        assert status == 400
        with site.client() as client:
            sign_in(client, "bob", PASSWORD)  # still bob's


class TestEmail:
    def test_a_link_goes_to_the_new_address_and_the_old_is_told(
        self, site: RunningServer, ada: None
    ) -> None:
        with site.client() as client:
            sign_in(client, "ada", PASSWORD)
            answer = submit(
                client, "/account/profile", "/account/profile/email", email="ada@new.example"
            )
            assert answer.status_code == 200
            assert "We have sent a link to ada@new.example" in answer.text
            link = site.wait_for_mail("ada@new.example", "Verify your new email").link
            assert link.startswith(f"{site.url}/account/activate/")
            page = client.get(link)
            done = client.post(link, data={"csrf_token": csrf_of(page)})
            assert "E-mail address changed" in done.text
        told = site.wait_for_mail("ada@example.org", "Email Changed")
        assert "ada@new.example" in told.text
        with site.client() as client:
            sign_in(client, "ada@new.example", PASSWORD)

    def test_a_bad_address_is_refused(self, site: RunningServer, ada: None) -> None:
        with site.client() as client:
            sign_in(client, "ada", PASSWORD)
            answer = submit(
                client, "/account/profile", "/account/profile/email", email="not an address"
            )
        assert answer.status_code == 400 and "not valid" in answer.text


class TestData:
    def test_the_download_holds_profile_sessions_and_events(
        self, site: RunningServer, ada: None
    ) -> None:
        with site.client() as client:
            sign_in(client, "ada", PASSWORD)
            answer = client.get("/account/profile/data.json")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/json"
        assert "attachment" in answer.headers["content-disposition"]
        data = json.loads(answer.text)
        assert data["profile"]["email"] == "ada@example.org"
        assert data["profile"]["username"] == "ada"
        assert len(data["sessions"]) == 1
        assert "login_succeeded" in [e["kind"] for e in data["events"]]
        text = answer.text.lower()
        assert "argon2" not in text and "password_hash" not in text and "secret" not in text
        assert client.cookies.get("portcullis-session") not in answer.text

    def test_needs_a_session(self, site: RunningServer) -> None:
        with site.client() as client:
            answer = client.get("/account/profile/data.json")
        assert answer.status_code == 303


class TestDelete:
    def test_a_wrong_password_deletes_nothing(self, site: RunningServer, ada: None) -> None:
        with site.client() as client:
            sign_in(client, "ada", PASSWORD)
            answer = submit(
                client, "/account/profile", "/account/profile/delete", password="not mine"
            )
            assert answer.status_code == 401 and "The password is wrong." in answer.text
            assert client.get("/account/profile").status_code == 200

    def test_the_account_goes_with_its_sessions_and_a_notice_is_sent(
        self, site: RunningServer, ada: None
    ) -> None:
        with site.client() as api:
            other = login(api, "ada", PASSWORD)
        with site.client() as client:
            sign_in(client, "ada", PASSWORD)
            answer = submit(
                client, "/account/profile", "/account/profile/delete", password=PASSWORD
            )
            assert answer.headers["location"] == "/account/signin?done=account-deleted"
            assert "portcullis-session" not in client.cookies
            shown = client.get(answer.headers["location"])
            assert "Your account is deleted" in shown.text
        with site.client() as api:
            assert api.get("/auth/profile", headers={"X-Session-Token": other}).status_code == 401
        assert "deleted" in site.wait_for_mail("ada@example.org", "Account Deleted").text
        with site.client() as client:
            refused = submit(client, "/account/signin", login="ada", password=PASSWORD)
            assert refused.status_code == 401
        kinds = [event.kind for event in audit_of(site)]
        assert AuditKind.ACCOUNT_DELETED in kinds and AuditKind.LOGIN_SUCCEEDED in kinds
        add_account(site.settings, "ada@example.org", username="ada")  # the address is free


def audit_of(site: RunningServer) -> list[AuditEvent]:
    """The trail's events, newest first (the account's among them, kept past deletion)."""

    async def read() -> list[AuditEvent]:
        services = build_services(site.settings)
        try:
            return list((await services.audit.read(None)).items)
        finally:
            await services.close()

    return asyncio.run(read())
