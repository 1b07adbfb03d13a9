"""Login names as the lockout keeps them: bounded, keyed by a keyed hash, never as typed.

A name longer than any e-mail or username is refused before anything is counted or
hashed; every other name that matches no account is counted under a fixed-size keyed
hash of its canonical form, so a very_long of name costs no more than a letter, and a
password typed into the login field is kept nowhere in clear (audit trail, Redis keys).
"""

from __future__ import annotations

import base64
import re

import pytest
import redis
from typer.testing import CliRunner

from portcullis.cli import app
from portcullis.core.validation import MAX_LOGIN_LENGTH
from tests.conftest import REDIS_URL, MakeServer, SettingsFactory
from tests.http.test_sessions_api import cli_env
from tests.support import RunningServer, add_account, audit_rows
from tests.web.conftest import csrf_of

LONG_LOGIN = f"The login name must be at most {MAX_LOGIN_LENGTH} characters"
# What people paste into the login field by mistake.
PASTED_PASSWORD = "Tr0ub4dor&3 horse-battery"


@pytest.fixture
def server(
    settings_for: SettingsFactory, make_server: MakeServer, redis_settings: dict[str, str]
) -> RunningServer:
    settings = settings_for(
        **redis_settings,
        rate_limit_login="1000/minute",
        login_lockout_threshold=3,
        cookie_secure=False,
    )
    add_account(settings, "known@example.org", username="known")
    return make_server(settings)


def keys_of(server: RunningServer) -> list[str]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        pattern = f"{server.settings.redis_key_prefix}:*"
        return [key.decode() for key in client.scan_iter(pattern)]
    finally:
        client.close()


def lockout_keys(server: RunningServer) -> list[str]:
    return [key for key in keys_of(server) if ":lockout:" in key]


def test_names_longer_than_any_login_are_refused_in_each_dialect_before_anything(
    server: RunningServer,
) -> None:
    too_long = "n" * (MAX_LOGIN_LENGTH + 1)
    basic = base64.b64encode(f"{too_long}:whatever".encode()).decode()
    with server.client() as client:
        biostudies = client.post("/auth/login", json={"login": too_long, "password": "x"})
        very_long = client.post("/auth/signin", json={"login": "m" * 10_000, "password": "x"})
        trackhub = client.post("/api/login", data={"username": too_long, "password": "x"})
        trackhub_basic = client.get("/api/login", headers={"Authorization": f"Basic {basic}"})
        form = client.get("/account/signin")
        page = client.post(
            "/account/signin",
            data={"csrf_token": csrf_of(form), "login": too_long, "password": "x"},
        )
    for answer in (biostudies, very_long):
        assert answer.status_code == 400
        assert answer.json()["status"] == "FAIL"
        assert LONG_LOGIN in answer.text
    for answer in (trackhub, trackhub_basic):
        assert (answer.status_code, answer.json()) == (400, {"error": LONG_LOGIN})
    assert page.status_code == 400
    assert LONG_LOGIN in page.text
    # Nothing was counted, nothing recorded, nothing hashed.
    assert lockout_keys(server) == []
    assert [r for r in audit_rows(server.settings) if r["kind"] == "login_failed"] == []


def test_the_longest_name_is_counted_under_a_key_as_short_as_any(server: RunningServer) -> None:
    names = [
        "a",
        "nobody@example.org",
        "ünïcödé-ñame",
        "x" * 100,
        "y" * MAX_LOGIN_LENGTH,
        *(f"someone{n}@example.org" for n in range(40)),
    ]
    with server.client() as client:
        for name in names:
            answer = client.post("/auth/login", json={"login": name, "password": "wrong"})
            assert answer.status_code == 401, name
    keys = lockout_keys(server)
    prefix = server.settings.redis_key_prefix
    for count in ("day", "streak"):
        of_count = [k for k in keys if k.startswith(f"{prefix}:lockout:{count}:name:")]
        assert len(of_count) == len(names)
        assert {len(k) for k in of_count} == {len(f"{prefix}:lockout:{count}:name:") + 32}


def test_spellings_of_one_name_are_one_count(server: RunningServer) -> None:
    with server.client() as client:
        for spelling in ("Alice", "ALICE", "\uff21\uff4c\uff49\uff43\uff45"):  # fullwidth
            answer = client.post("/auth/login", json={"login": spelling, "password": "wrong"})
            assert answer.status_code == 401
        held = client.post("/auth/login", json={"login": " alice ", "password": "wrong"})
    assert held.status_code == 429


def test_a_password_typed_as_the_login_name_is_kept_nowhere(server: RunningServer) -> None:
    with server.client() as client:
        answer = client.post("/auth/login", json={"login": PASTED_PASSWORD, "password": "x"})
        assert answer.status_code == 401
        for _ in range(3):  # on to a hold, so that every kind of key and row is written
            client.post("/api/login", data={"username": PASTED_PASSWORD, "password": "y"})
    rows = audit_rows(server.settings)
    kinds = {row["kind"] for row in rows}
    assert {"login_failed", "lockout_started"} <= kinds
    unknown = [row for row in rows if row["kind"] in ("login_failed", "lockout_started")]
    assert {row["subject"] for row in unknown} == {unknown[0]["subject"]}
    assert re.fullmatch("name:[0-9a-f]{32}", unknown[0]["subject"])
    everything = " ".join(str(value) for row in rows for value in row.values())
    keys = keys_of(server)
    assert any(":lockout:hold:name:" in key for key in keys)
    for kept in (everything, *keys):
        for part in (PASTED_PASSWORD, PASTED_PASSWORD.lower(), "Tr0ub4dor", "tr0ub4dor"):
            assert part not in kept
    # The operator's view says what happened, to which (hashed) name, from where.
    shown = CliRunner().invoke(app, ["audit"], env=cli_env(server.settings))
    assert shown.exit_code == 0, shown.output
    assert "tr0ub4dor" not in shown.output.lower()
    lines = [line.split("\t") for line in shown.output.splitlines()]
    failed = [line for line in lines if line[1] == "login_failed"]
    assert {(line[2], line[3]) for line in failed} == {
        (unknown[0]["subject"], "unknown_account"),
        (unknown[0]["subject"], "locked"),
    }
