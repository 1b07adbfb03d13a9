"""The pages in the browser's language (Accept-Language), or the operator's
(PORTCULLIS_LANGUAGE); English and German shipped, as gettext catalogues."""

from __future__ import annotations

import gettext
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from portcullis.config import Settings
from portcullis.core.errors import ALREADY_REGISTERED
from portcullis.core.passwords import TOO_LONG, TOO_SHORT
from portcullis.core.signin import LONG_LOGIN
from portcullis.core.validation import NAME_TOO_LONG, USERNAME_SHAPE
from portcullis.locale import DEFAULT, HERE, LANGUAGES, choose, translations
from tests.support import PASSWORD, RunningServer, add_account
from tests.web.conftest import SiteFactory, sign_in, submit
from tests.web.test_field_errors import error_of

GERMAN = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}


def test_a_german_browser_gets_german_pages(site: RunningServer) -> None:
    with site.client(headers=GERMAN) as client:
        page = client.get("/account/signin")
    assert '<html lang="de">' in page.text
    assert page.headers["content-language"] == "de"
    assert "Accept-Language" in page.headers["vary"]
    assert "<title>Anmelden · " in page.text and "Passwort vergessen?" in page.text


def test_any_other_browser_gets_english(site: RunningServer) -> None:
    with site.client(headers={"Accept-Language": "fr-FR,fr;q=0.9"}) as client:
        page = client.get("/account/signin")
    assert '<html lang="en">' in page.text and "Forgot your password?" in page.text


def test_the_setting_fixes_the_language(make_site: SiteFactory) -> None:
    site = make_site(language="de")
    with site.client(headers={"Accept-Language": "en"}) as client:
        page = client.get("/account/register")
    assert "Registrieren" in page.text and "Ihr Passwort muss sein:" in page.text


def test_problems_notices_and_error_pages_are_translated(site: RunningServer) -> None:
    add_account(site.settings, "ada@example.org")
    with site.client(headers=GERMAN) as client:
        wrong = submit(client, "/account/signin", login="ada@example.org", password="nope")
        missing = client.get("/account/no-such-page")
        sign_in(client, "ada@example.org", PASSWORD)
        out = submit(client, "/account/profile", "/account/signout")
        told = client.get(out.headers["location"])
    assert "E-Mail-Adresse, Benutzername oder Passwort ist falsch." in wrong.text
    assert "Seite nicht gefunden" in missing.text
    assert "Sie sind abgemeldet." in told.text


def summary_of(page: str) -> str:
    return page.split('id="problems"')[1].split("</div>")[0]


def test_the_cores_problems_are_said_in_german_beside_the_field_and_above(
    site: RunningServer,
) -> None:
    with site.client(headers=GERMAN) as client:
        page = submit(
            client,
            "/account/register",
            name="Ada Lovelace",
            email="ada@example.org",
            username="ada lovelace",
            password="kurz",
        ).text
    short = "Das Passwort muss mindestens 8 Zeichen lang sein."
    shape = "Der Benutzername darf nur Buchstaben, Ziffern und . _ + - enthalten (höchstens 150)"
    assert short in error_of(page, "password") and shape in error_of(page, "username")
    assert f'<a href="#password">{short}</a>' in summary_of(page)
    assert f'<a href="#username">{shape}</a>' in summary_of(page)
    assert "at least" not in page and "may hold only" not in page


def test_a_refused_sign_in_and_its_lockout_are_said_in_german(make_site: SiteFactory) -> None:
    site = make_site(login_lockout_threshold=1, login_lockout_base_seconds=600)
    add_account(site.settings, "ada@example.org")
    with site.client(headers=GERMAN) as client:
        wrong = submit(client, "/account/signin", login="ada@example.org", password="nope").text
        held = submit(client, "/account/signin", login="ada@example.org", password="nope").text
    assert "E-Mail-Adresse, Benutzername oder Passwort ist falsch." in summary_of(wrong)
    assert (
        "Zu viele Versuche: Die Anmeldung ist vorerst gesperrt. "
        "Bitte versuchen Sie es in 10 Minuten erneut."
    ) in summary_of(held)


@pytest.mark.parametrize(
    "template",
    [TOO_SHORT, TOO_LONG, NAME_TOO_LONG, USERNAME_SHAPE, ALREADY_REGISTERED, LONG_LOGIN.template],
)
def test_each_template_of_the_core_the_pages_show_is_translated(template: str) -> None:
    for language in LANGUAGES:
        if language != DEFAULT:
            assert translations(language).gettext(template) != template, (language, template)


TWICE_SHORT = {"password": "kurz", "password2": "kurz"}
ACTIVATE = {"instanceKey": "portal", "path": "activate"}


def test_the_apis_say_the_cores_problems_in_english_to_a_german_client(
    make_site: SiteFactory,
) -> None:
    site = make_site(instances={"portal": "https://portal.example/{key}"})
    body = {"name": "Ada", "email": "ada@example.org", "password": "kurz", **ACTIVATE}
    with site.client(headers=GERMAN) as client:
        biostudies = client.post("/auth/register", json=body)
        trackhub = client.post(
            "/api/user/register",
            data={"email": "ada@example.org", "username": "ada lovelace", **TWICE_SHORT},
        )
    assert biostudies.content == (
        b'{"status":"FAIL","log":{"level":"ERROR","message":"Form Validation Errors",'
        b'"subnodes":[{"level":"ERROR","message":'
        b'"The password must be at least 8 characters long.","subnodes":[]}]}}'
    )
    assert trackhub.content == (
        b'{"username":["The username may hold only letters, digits and . _ + - (at most 150)"],'
        b'"password":["The password must be at least 8 characters long."]}'
    )


def test_text_from_elsewhere_is_still_escaped_when_translated(site: RunningServer) -> None:
    with site.client(headers=GERMAN) as client:
        page = submit(client, "/account/password/forgot", email="<b>x</b>@example")
    assert "<b>x</b>" not in page.text


@pytest.mark.parametrize(
    ("header", "fixed", "chosen"),
    [
        ("de", "", "de"),
        ("en-GB,de;q=0.8", "", "en"),
        ("fr,de;q=0.3,en;q=0.2", "", "de"),
        ("de;q=0,en", "", "en"),
        ("", "", "en"),
        ("garbage;;q=x", "", "en"),
        ("en", "de", "de"),
    ],
)
def test_choose(header: str, fixed: str, chosen: str) -> None:
    assert choose(header, fixed) == chosen


def test_a_language_not_shipped_is_refused() -> None:
    with pytest.raises(ValidationError, match="language"):
        Settings(language="fr")


def test_every_catalogue_is_complete_and_compiled() -> None:
    """The committed .mo says what its .po says (run pybabel compile after editing)."""
    from babel.messages.pofile import read_po

    for po in Path(HERE).glob("*/LC_MESSAGES/portcullis.po"):
        with po.open("rb") as handle:
            catalogue = read_po(handle)
        with po.with_suffix(".mo").open("rb") as handle:
            compiled = gettext.GNUTranslations(handle)
        for message in catalogue:
            if not message.id:
                continue
            assert all(message.string), f"{po}: {message.id!r} is not translated"
            if isinstance(message.id, tuple):  # singular and plural
                one, many = message.id
                assert compiled.ngettext(one, many, 1) == message.string[0], one
                assert compiled.ngettext(one, many, 2) == message.string[1], many
            else:
                assert compiled.gettext(message.id) == message.string, message.id


def test_every_text_of_the_pages_and_mails_is_in_the_catalogues(tmp_path: Path) -> None:
    """Nothing marked for translation is missing from a language (extract it again)."""
    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parents[2]
    template = tmp_path / "portcullis.pot"
    extract = ["extract", "-F", "babel.cfg", "--no-location", "-k", "N_", "-o", str(template)]
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "--quiet", *extract, "."],
        cwd=root,
        check=True,
    )
    with template.open("rb") as handle:
        wanted = {m.id for m in read_po(handle) if m.id}
    for po in Path(HERE).glob("*/LC_MESSAGES/portcullis.po"):
        with po.open("rb") as handle:
            held = {m.id for m in read_po(handle) if m.id}
        assert not wanted - held, f"{po} lacks these (run pybabel update): {wanted - held}"


def test_mails_in_the_operators_language(make_site: SiteFactory) -> None:
    site = make_site(language="de")
    add_account(site.settings, "ada@example.org", full_name="Ada Lovelace")
    with site.client() as client:
        submit(client, "/account/password/forgot", email="ada@example.org")
    mail = site.wait_for_mail("ada@example.org")
    assert mail.subject == "Portcullis: Passwort zurücksetzen"
    assert "Liebe(r) Ada Lovelace," in mail.text
    assert "Der Link gilt einmal, 1 Stunde lang." in mail.text
    assert '<html lang="de">' in mail.html and "Der Link gilt einmal" in mail.html


def test_mails_in_english_unless_the_operator_chose(site: RunningServer) -> None:
    add_account(site.settings, "ada@example.org", full_name="Ada Lovelace")
    with site.client(headers=GERMAN) as client:
        submit(client, "/account/password/forgot", email="ada@example.org")
    mail = site.wait_for_mail("ada@example.org")
    assert "Password Reset" in mail.subject and "The link works once, for 1 hour." in mail.text


def test_the_session_list_names_browsers_in_the_pages_language(site: RunningServer) -> None:
    add_account(site.settings, "ada@example.org")
    agent = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0.0.0 Safari/537.36"}
    with site.client(headers={**GERMAN, **agent}) as client:
        sign_in(client, "ada@example.org", PASSWORD)
        page = client.get("/account/profile")
    assert "Chrome unter Linux" in page.text and "Dieser Browser" in page.text
