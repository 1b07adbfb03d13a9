"""Generated requests to every route: never a 5xx, a traceback, or an answer outside its dialect.

One real server per engine (the ``database_url`` fixture's two), reached over HTTP.
The routes come from the app's router, so a new route is fuzzed without a word here.
Hypothesis runs derandomized (the same requests on every run, so CI is stable) without
its example database; a live server is slow for Hypothesis' taste, hence the health
checks and the deadline turned off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import MakeServer, SettingsFactory
from tests.http.fuzzing import (
    APP,
    BOUNDARY,
    HOLDER,
    ROOT,
    VICTIM,
    Tokens,
    check,
    exception_names,
    header_choices,
    requests,
    route_templates,
)
from tests.support import RunningServer, add_account, free_socket

# Limits high enough that parsing, not counting, answers; one run keeps the defaults.
HIGH_LIMITS = {
    "rate_limit_login": "1000000/minute",
    "rate_limit_register": "1000000/minute",
    "rate_limit_mail": "1000000/minute",
    "rate_limit_key": "1000000/minute",
    "rate_limit_reset_per_account": "1000000/minute",
    "login_lockout_threshold": 1_000_000,
}


# --- the runs --------------------------------------------------------------------------


def fuzz(server: RunningServer, examples: int) -> int:
    """Send ``examples`` batches of generated requests; how many requests were sent.

    The logins that renew the sessions now and then are not counted.
    """
    for who in (HOLDER, VICTIM):
        add_account(server.settings, who)
    add_account(server.settings, ROOT, superuser=True)
    tokens = Tokens(server)
    names = exception_names()
    sent = 0
    with server.client() as client:
        tokens.renew(client)
        templates = route_templates(server)
        headers = st.fixed_dictionaries(header_choices(tokens, server.settings.session_cookie_name))

        @settings(
            max_examples=examples,
            derandomize=True,
            database=None,
            deadline=None,
            print_blob=False,
            suppress_health_check=[
                HealthCheck.too_slow,
                HealthCheck.data_too_large,
                HealthCheck.filter_too_much,
                HealthCheck.large_base_example,
            ],
        )
        @given(requests(templates, tokens, headers))
        def some_requests(batch: list[httpx.Request]) -> None:
            nonlocal sent
            for request in batch:
                sent += 1
                if sent % 250 == 0:
                    tokens.renew(client)
                check(request, client.send(request), names)

        some_requests()
    return sent


def fuzz_server(
    settings_for: SettingsFactory, make_server: MakeServer, **limits: Any
) -> RunningServer:
    sock = free_socket()
    public = f"http://127.0.0.1:{sock.getsockname()[1]}"
    return make_server(
        settings_for(public_url=public, cors_origins=APP, cookie_secure=False, **limits), sock
    )


def test_fuzz_with_high_limits(settings_for: SettingsFactory, make_server: MakeServer) -> None:
    assert fuzz(fuzz_server(settings_for, make_server, **HIGH_LIMITS), 3_400) >= 10_000


def test_fuzz_with_default_limits(settings_for: SettingsFactory, make_server: MakeServer) -> None:
    assert fuzz(fuzz_server(settings_for, make_server), 500) >= 1_500


# --- cases written out: what the outside attack sent, and what the fuzzer rarely draws --


@dataclass(frozen=True)
class Seed:
    method: str
    path: str
    body: bytes
    content_type: str
    as_root: bool = False


def _multipart(charset: str, value: bytes) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="login"\r\n'
        f"Content-Type: text/plain; charset={charset}\r\n\r\n".encode()
        + value
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
SEEDS = {
    "userName of 300 characters": Seed(
        "POST",
        "/auth/check-registration",
        b'{"userEmail": "long@example.org", "userName": "' + b"x" * 300 + b'"}',
        "application/json",
        as_root=True,
    ),
    "punycode multipart": Seed("POST", "/auth/login", _multipart("punycode", b"x"), MULTIPART),
    "utf-7 body charset": Seed(
        "POST", "/api/login", _multipart("utf-8", b"+2AA-"), MULTIPART + "; charset=utf-7"
    ),
    "unicode_escape on the pages": Seed(
        "POST", "/account/signin", _multipart("unicode_escape", b"\\ud800"), MULTIPART
    ),
    "surrogate in a form": Seed(
        "POST", "/account/register", b"email=%ED%A0%80", "application/x-www-form-urlencoded"
    ),
    "bad UTF-8 in a query": Seed("GET", "/auth/admin/audit?user=%FF", b"", "", as_root=True),
}


@pytest.mark.parametrize("name", SEEDS)
def test_seeded_cases(
    settings_for: SettingsFactory,
    make_server: MakeServer,
    name: str,
) -> None:
    seed = SEEDS[name]
    server = fuzz_server(settings_for, make_server)
    add_account(server.settings, ROOT, superuser=True)
    with server.client() as client:
        tokens = Tokens(server)
        tokens.renew(client)
        headers = {"Content-Type": seed.content_type} if seed.content_type else {}
        if seed.as_root:
            headers["X-Session-Token"] = tokens.api[ROOT]
        sent = httpx.Request(
            seed.method, server.url + seed.path, headers=headers, content=seed.body
        )
        check(sent, client.send(sent), exception_names())
