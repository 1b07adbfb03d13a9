"""Concurrent guesses against the lockout, on the real ``portcullis serve --workers 2``.

On SQLite the counts are in memory (serve's own process keeps them for both workers),
on PostgreSQL in Redis. Whatever number of guesses arrive at once, from one address or
many, through either dialect or the pages, no more passwords are checked than the lockout
allows: the checked ones are counted from the audit trail (``login_failed`` with detail
``bad_password``, written once a hash said no). The right password, sent in the burst once
the wrong ones have spent the budget, is refused.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from portcullis.config import Settings
from tests.processes import ServeProcess, portcullis_env, run_cli
from tests.support import PASSWORD, audit_rows

THRESHOLD = 5
ADDRESSES = [f"198.51.100.{n}" for n in range(1, 11)]
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')

# One guess: through a client, from an address, with a password; the answer.
Guess = Callable[[httpx.AsyncClient, str, str], Awaitable[httpx.Response]]


@pytest.fixture
def serve_env(tmp_path: Path, database_url: str, request: pytest.FixtureRequest) -> dict[str, str]:
    counts = {} if database_url.startswith("sqlite") else request.getfixturevalue("redis_settings")
    return portcullis_env(
        tmp_path / "data",
        database_url=database_url,
        trusted_proxies="127.0.0.1",  # the tests name their client addresses
        cookie_secure="false",
        login_lockout_threshold=str(THRESHOLD),
        login_lockout_base_seconds="600",  # no hold ends during a test
        login_lockout_max_seconds="3600",
        **counts,
    )


@contextlib.contextmanager
def serving(env: dict[str, str], **settings: str) -> Iterator[ServeProcess]:
    env = {**env, **{f"PORTCULLIS_{key.upper()}": value for key, value in settings.items()}}
    added = run_cli(
        env, "user", "add", "ann@example.org", "--username", "ann", "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    server = ServeProcess(env, "--workers", "2")
    try:
        yield server
    finally:
        server.stop()


def checked_passwords(env: dict[str, str]) -> int:
    settings = Settings(
        _env_file=None,
        database_url=env["PORTCULLIS_DATABASE_URL"],
        data_dir=Path(env["PORTCULLIS_DATA_DIR"]),
    )
    rows = audit_rows(settings)
    return sum(1 for r in rows if r["kind"] == "login_failed" and r["detail"] == "bad_password")


async def burst(url: str, guess: Guess, wrong: int, budget: int) -> tuple[list[int], int]:
    """``wrong`` wrong guesses at once, spread over ADDRESSES, and the right password sent
    in the burst as soon as the budget is seen spent (a 429, or ``budget`` 401s).

    The statuses of the wrong guesses, and the right password's.
    """
    statuses: list[int] = []
    spent = asyncio.Event()
    limits = httpx.Limits(max_connections=wrong + 1, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:

        async def wrong_guess(n: int) -> None:
            answer = await guess(client, ADDRESSES[n % len(ADDRESSES)], f"wrong guess {n}")
            statuses.append(answer.status_code)
            if 429 in statuses or statuses.count(401) >= budget or len(statuses) == wrong:
                spent.set()

        async def right_guess() -> int:
            await spent.wait()
            return (await guess(client, ADDRESSES[0], PASSWORD)).status_code

        *_, right = await asyncio.gather(*[wrong_guess(n) for n in range(wrong)], right_guess())
    return statuses, right


async def biostudies(client: httpx.AsyncClient, address: str, password: str) -> httpx.Response:
    return await client.post(
        "/auth/signin",
        json={"login": "ann@example.org", "password": password},
        headers={"X-Forwarded-For": address},
    )


async def trackhub(client: httpx.AsyncClient, address: str, password: str) -> httpx.Response:
    basic = base64.b64encode(f"ann:{password}".encode()).decode()
    return await client.get(
        "/api/login", headers={"Authorization": f"Basic {basic}", "X-Forwarded-For": address}
    )


def page_guess(url: str) -> Guess:
    """Sign-ins through the page's form, all with one browser's CSRF cookie and token."""
    form = httpx.get(f"{url}/account/signin")
    found = CSRF_FIELD.search(form.text)
    assert found, form.text
    token, nonce = found.group(1), form.cookies["portcullis-csrf"]

    async def guess(client: httpx.AsyncClient, address: str, password: str) -> httpx.Response:
        return await client.post(
            "/account/signin",
            data={"csrf_token": token, "login": "ann", "password": password},
            headers={"X-Forwarded-For": address, "Cookie": f"portcullis-csrf={nonce}"},
        )

    return guess


def test_many_addresses_at_once_get_no_more_checks_than_the_threshold(
    serve_env: dict[str, str],
) -> None:
    # 15 guesses from each of 10 addresses: under each address's limit of 30 a minute.
    with serving(serve_env) as server:
        statuses, right = asyncio.run(burst(server.url, biostudies, 150, THRESHOLD))
    assert set(statuses) <= {401, 429}
    assert statuses.count(401) == checked_passwords(serve_env) == THRESHOLD
    assert right == 429


def test_one_address_at_once_gets_no_more_checks_than_the_threshold(
    serve_env: dict[str, str],
) -> None:
    with serving(serve_env, rate_limit_login="10000/minute") as server:
        statuses, right = asyncio.run(burst(server.url, trackhub, 120, THRESHOLD))
    assert set(statuses) <= {401, 429}
    assert statuses.count(401) == checked_passwords(serve_env) == THRESHOLD
    assert right == 429


def test_the_page_sign_in_at_once_gets_no_more_checks_than_the_threshold(
    serve_env: dict[str, str],
) -> None:
    with serving(serve_env, rate_limit_login="10000/minute") as server:
        statuses, right = asyncio.run(burst(server.url, page_guess(server.url), 100, THRESHOLD))
    assert set(statuses) <= {401, 429}
    assert statuses.count(401) == checked_passwords(serve_env) == THRESHOLD
    assert right == 429  # not the 303 into the profile


def test_the_daily_cap_holds_at_once(serve_env: dict[str, str]) -> None:
    # A streak that never holds: only the day's cap of 10 stands in the way.
    cap = 10
    with serving(
        serve_env,
        rate_limit_login="10000/minute",
        login_lockout_threshold="1000",
        login_lockout_daily_failures=str(cap),
    ) as server:
        statuses, right = asyncio.run(burst(server.url, biostudies, 120, cap))
        with httpx.Client(base_url=server.url) as client:
            held = client.post(
                "/auth/login", json={"login": "ann", "password": PASSWORD}
            )  # later, from the server's own address
    assert set(statuses) <= {401, 429}
    assert statuses.count(401) == checked_passwords(serve_env) == cap
    assert right == 429
    assert held.status_code == 429
    assert 3600 < int(held.headers["retry-after"]) <= 24 * 3600
