"""The profile's current-password check is counted by the account's lockout and audited.

Without it a stolen session was a password oracle limited only by the address's rate
limit. Its failures are recorded as ``current_password_failed``, apart from sign-ins:
the guesser already holds a session of the account.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.support import PASSWORD, RunningServer, add_account, audit_rows
from tests.web.conftest import SiteFactory, csrf_of, sign_in

THRESHOLD = 3
NEW_PASSWORD = "a fresh passphrase"


@pytest.fixture
def site(make_site: SiteFactory) -> RunningServer:
    site = make_site(
        login_lockout_threshold=THRESHOLD,
        login_lockout_base_seconds=600,
        rate_limit_login="1000/minute",
    )
    add_account(site.settings, "ada@example.org", username="ada")
    return site


def change(client: httpx.Client, current: str) -> httpx.Response:
    token = csrf_of(client.get("/account/profile"))
    return client.post(
        "/account/profile/password",
        data={"csrf_token": token, "current_password": current, "new_password": NEW_PASSWORD},
    )


def checks(site: RunningServer, detail: str) -> int:
    rows = audit_rows(site.settings)
    return sum(1 for r in rows if r["kind"] == "current_password_failed" and r["detail"] == detail)


def test_wrong_current_passwords_lock_the_account_as_sign_ins_do(site: RunningServer) -> None:
    with site.client() as browser:
        sign_in(browser, "ada", PASSWORD)
        wrong = [change(browser, f"guess {n}").status_code for n in range(THRESHOLD)]
        held = change(browser, PASSWORD)
        assert held.status_code == 429
        with site.client() as api:  # the same account's hold, wherever it is asked
            refused = api.post("/auth/login", json={"login": "ada", "password": PASSWORD})
    assert wrong == [401] * THRESHOLD
    assert refused.status_code == 429
    assert (checks(site, "bad_password"), checks(site, "locked")) == (THRESHOLD, 1)
    [started] = [r for r in audit_rows(site.settings) if r["kind"] == "lockout_started"]
    assert started["account_id"] is not None
    assert started["detail"] == "600s"


def test_concurrent_guesses_are_checked_no_more_than_the_threshold(site: RunningServer) -> None:
    with site.client() as browser:
        sign_in(browser, "ada", PASSWORD)
        token = csrf_of(browser.get("/account/profile"))
        cookies = dict(browser.cookies)

    async def guess_at_once() -> list[int]:
        async with httpx.AsyncClient(base_url=site.url, cookies=cookies, timeout=60) as client:
            answers = await asyncio.gather(
                *[
                    client.post(
                        "/account/profile/password",
                        data={
                            "csrf_token": token,
                            "current_password": f"guess {n}",
                            "new_password": NEW_PASSWORD,
                        },
                    )
                    for n in range(60)
                ]
            )
        return [answer.status_code for answer in answers]

    statuses = asyncio.run(guess_at_once())
    assert set(statuses) == {401, 429}
    assert statuses.count(401) == checks(site, "bad_password") == THRESHOLD
