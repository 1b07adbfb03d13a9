"""Every change of a password voids the account's outstanding reset and setup keys:
on the profile page, from the CLI, and by using another mailed key."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from typer.testing import CliRunner

from portcullis.cli import app
from tests.support import PASSWORD, RunningServer, add_account
from tests.web.conftest import mailed_reset_link, mailed_setup_link, sign_in, submit

CHANGED = "a password chosen since"
FROM_THE_LINK = "a password from an old link"


def assert_link_dead(site: RunningServer, link: str) -> None:
    """Neither the page nor the API sets a password with the link's key any more."""
    with site.client() as client:
        shown = client.get(link)  # said before a password is asked for
        assert shown.status_code == 400 and "already been used or has expired" in shown.text
        assert 'name="password"' not in shown.text
        page = submit(client, "/account/signin", link, password=FROM_THE_LINK)
        assert page.status_code == 400 and "already been used or has expired" in page.text
        key = link.rsplit("/", 1)[1]
        api = client.post(
            "/auth/password/change", json={"activationKey": key, "password": FROM_THE_LINK}
        )
        assert api.status_code == 400
        answer = client.post(
            "/auth/login", json={"login": "ada@example.org", "password": FROM_THE_LINK}
        )
        assert answer.status_code == 401


def can_sign_in(site: RunningServer, password: str) -> bool:
    with site.client() as api:
        answer = api.post("/auth/login", json={"login": "ada@example.org", "password": password})
    return answer.status_code == 200


def change_on_the_profile_page(site: RunningServer) -> None:
    with site.client() as client:
        sign_in(client, "ada@example.org", PASSWORD)
        answer = submit(
            client,
            "/account/profile",
            "/account/profile/password",
            current_password=PASSWORD,
            new_password=CHANGED,
        )
        assert answer.status_code == 303, answer.text


def change_with_the_cli(site: RunningServer) -> None:
    env = {
        "PORTCULLIS_DATA_DIR": str(site.settings.data_dir),
        "PORTCULLIS_DATABASE_URL": site.settings.database_url,
        "PORTCULLIS_ARGON2_MEMORY_KIB": "1024",
        "PORTCULLIS_ARGON2_TIME_COST": "1",
    }
    changed = CliRunner().invoke(
        app,
        ["user", "set-password", "ada@example.org", "--password-stdin"],
        input=CHANGED + "\n",
        env=env,
    )
    assert changed.exit_code == 0, changed.output


@pytest.mark.parametrize(
    "change",
    [change_on_the_profile_page, change_with_the_cli],
    ids=["profile page", "CLI"],
)
def test_a_reset_link_mailed_before_a_password_change_is_dead(
    site: RunningServer, change: Callable[[RunningServer], None]
) -> None:
    add_account(site.settings, "ada@example.org")
    link = mailed_reset_link(site)
    change(site)
    assert_link_dead(site, link)
    assert can_sign_in(site, CHANGED)


@pytest.mark.parametrize(
    ("used", "outstanding"),
    [(mailed_setup_link, mailed_reset_link), (mailed_reset_link, mailed_setup_link)],
    ids=["setup used, reset outstanding", "reset used, setup outstanding"],
)
def test_using_one_mailed_key_voids_the_other(
    site: RunningServer,
    used: Callable[[RunningServer], str],
    outstanding: Callable[[RunningServer], str],
) -> None:
    add_account(site.settings, "ada@example.org", password=None, active=False)
    other = outstanding(site)
    link = used(site)
    with site.client() as client:
        assert submit(client, link, password=CHANGED).status_code == 303
    assert_link_dead(site, other)
    assert can_sign_in(site, CHANGED)
