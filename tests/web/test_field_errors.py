"""Each problem beside the field it concerns, named by the field's aria-describedby, and
linked to that field from the summary at the top."""

from __future__ import annotations

import re

from tests.support import PASSWORD, RunningServer, add_account
from tests.web.conftest import mailed_reset_link, sign_in, submit


def input_of(page: str, field_id: str) -> str:
    found = re.search(rf'<input id="{field_id}"[^>]*>', page)
    assert found, page
    return found.group(0)


def error_of(page: str, field_id: str) -> str:
    found = re.search(rf'<p class="field-error" id="{field_id}-error">([^<]*)</p>', page)
    return found.group(1) if found else ""


def test_register_says_each_problem_beside_its_field(site: RunningServer) -> None:
    with site.client() as client:
        page = submit(
            client,
            "/account/register",
            name="Ada Lovelace",
            email="not-an-address",
            orcid="1234",
            password="qwerty",
        ).text
    assert "The provided email is not valid" in error_of(page, "email")
    assert "ORCID" in error_of(page, "orcid")
    assert "at least 8 characters" in error_of(page, "password")
    assert "too common" in error_of(page, "password")
    assert error_of(page, "name") == "" and error_of(page, "username") == ""
    email = input_of(page, "email")
    assert 'aria-describedby="email-error"' in email and 'aria-invalid="true"' in email
    password = input_of(page, "password")
    assert 'aria-describedby="password-error password-rules"' in password
    assert "aria-invalid" not in input_of(page, "name")
    summary = page.split('id="problems"')[1].split("</div>")[0]
    assert '<a href="#email">The provided email is not valid' in summary
    assert '<a href="#password">' in summary


def test_forgot_says_a_bad_address_beside_the_field(site: RunningServer) -> None:
    with site.client() as client:
        page = submit(client, "/account/password/forgot", email="nowhere").text
    assert error_of(page, "email") and 'aria-invalid="true"' in input_of(page, "email")


def test_a_wrong_sign_in_is_said_in_the_summary_only(site: RunningServer) -> None:
    with site.client() as client:
        page = submit(client, "/account/signin", login="ada", password="wrong one").text
    assert "username or password is wrong" in page
    assert 'class="field-error"' not in page


def test_profile_forms_say_problems_beside_their_fields(site: RunningServer) -> None:
    add_account(site.settings, "ada@example.org", username="ada", full_name="Ada Lovelace")
    add_account(site.settings, "bob@example.org", username="bob")
    with site.client() as client:
        sign_in(client, "ada", PASSWORD)
        details = submit(
            client,
            "/account/profile",
            "/account/profile/details",
            name="Ada",
            username="bob",
            orcid="",
        ).text
        password = submit(
            client,
            "/account/profile",
            "/account/profile/password",
            current_password="not it",
            new_password="a fresh passphrase",
        ).text
        deleting = submit(client, "/account/profile", "/account/profile/delete", password="no")
    assert "already taken" in error_of(details, "username")
    assert "wrong" in error_of(password, "current_password")
    assert "wrong" in error_of(deleting.text, "delete_password")


def test_a_refused_new_password_is_said_beside_it_on_the_reset_page(site: RunningServer) -> None:
    add_account(site.settings, "ada@example.org")
    link = mailed_reset_link(site)
    with site.client() as client:
        page = submit(client, link, password="ada").text
    assert "at least 8 characters" in error_of(page, "password")
