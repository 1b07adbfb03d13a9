"""GET /auth/sessions and /auth/admin/users/{email}/sessions a page at a time, newest
first, and ``portcullis user sessions --limit/--cursor``."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from portcullis.config import Settings
from portcullis.core.models import Client
from portcullis.services import Services
from portcullis.storage.tables import sessions
from tests.conftest import MakeServer, SettingsFactory
from tests.paging import (
    ANN,
    ROOT,
    as_session,
    next_page,
    spread_in_time,
    stored_times,
    walk,
    with_root_and_ann,
)
from tests.processes import portcullis_env, run_cli
from tests.support import fail_body, login
from tests.tokens import run_core

BAD_CURSOR = "cursor: not a cursor this service gave (start again without one)"
BAD_LIMIT = "limit: not a whole number from 1 to 1000"


def open_sessions(settings: Settings, email: str, count: int, per_second: int = 1) -> list[str]:
    """``count`` new sessions of the account, newest first, dated back over many seconds,
    ``per_second`` in each (more than one: pages cross seconds and split ties, in an
    order of their ids)."""

    async def run(services: Services) -> list[str]:
        account = await services.admin.find(email)
        client = Client("192.0.2.1", "pager")
        return [(await services.sessions.open(account, client)).session.id for _ in range(count)]

    newest_first = list(reversed(run_core(settings, run)))
    spread_in_time(settings, sessions, newest_first, per_second)
    return newest_first


def views(pages: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [session for page in pages for session in page]


def ids(pages: list[list[dict[str, Any]]]) -> list[str]:
    return [session["id"] for session in views(pages)]


def assert_newest_first(settings: Settings, walked: list[str]) -> None:
    made = stored_times(settings, sessions)
    times = [made[session_id] for session_id in walked]
    assert times == sorted(times, reverse=True)


@pytest.fixture
def settings(settings_for: SettingsFactory) -> Settings:
    return with_root_and_ann(settings_for())


def test_a_walk_shows_every_session_once_newest_first(
    settings: Settings, make_server: MakeServer
) -> None:
    made = open_sessions(settings, ANN, 249, per_second=3)
    with make_server(settings).client() as client:
        ann = login(client, ANN)
        pages = walk(client, "/auth/sessions?limit=7", ann)
        everyone = client.get("/auth/sessions?limit=1000", headers=as_session(ann))
    assert [len(page) for page in pages] == [7] * 35 + [5]
    walked = ids(pages)
    assert sorted(walked) == sorted([*made, walked[0]]) and len(set(walked)) == 250
    assert pages[0][0]["current"] and not any(s["current"] for s in views(pages)[1:])
    assert_newest_first(settings, walked)
    assert "link" not in everyone.headers
    assert [s["id"] for s in everyone.json()] == walked


def test_without_a_limit_the_list_is_a_page_of_a_hundred_with_a_link(
    settings: Settings, make_server: MakeServer
) -> None:
    open_sessions(settings, ANN, 249)
    with make_server(settings).client() as client:
        ann = login(client, ANN)
        first = client.get("/auth/sessions", headers=as_session(ann))
        pages = walk(client, "/auth/sessions", ann)
    assert len(first.json()) == 100
    assert "limit=" not in (next_page(first) or "")  # the next page is the default's too
    assert first.headers["cache-control"] == "no-store"
    assert [len(page) for page in pages] == [100, 100, 50]


def test_a_walk_is_not_shifted_by_sessions_opened_or_ended_meanwhile(
    settings: Settings, make_server: MakeServer
) -> None:
    open_sessions(settings, ANN, 40)
    with make_server(settings).client() as client:
        ann = login(client, ANN)
        before = client.get("/auth/sessions?limit=1000", headers=as_session(ann)).json()
        first = client.get("/auth/sessions?limit=10", headers=as_session(ann))
        later = next_page(first)
        assert later is not None
        login(client, ANN)  # lands on top, above the walk
        # The session the cursor names goes: the cursor still says where the walk stands.
        last_shown = first.json()[-1]["id"]
        ended = client.delete(f"/auth/sessions/{last_shown}", headers=as_session(ann))
        assert ended.status_code == 200
        rest = walk(client, later, ann)
    assert first.json() + [s for page in rest for s in page] == before


@pytest.mark.parametrize("path", ["/auth/sessions", f"/auth/admin/users/{ANN}/sessions"])
def test_a_bad_cursor_or_limit_is_a_400(
    settings: Settings, make_server: MakeServer, path: str
) -> None:
    def forged(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    users_cursor = forged("id:1")  # a cursor of another kind of list
    cursors = [
        "nonsense",
        users_cursor,
        forged("at:1:"),
        forged("at::abc"),
        forged("at:-5:abc"),
        forged("at:1:a\x00b"),
        forged("at:1:" + "x" * 65),
        forged("at:999999999999999999:abc"),  # past the years a date holds
    ]
    with make_server(settings).client() as client:
        root = login(client, ROOT)
        for cursor in cursors:
            answer = client.get(f"{path}?cursor={cursor}", headers=as_session(root))
            assert answer.status_code == 400, (cursor, answer.text)
            assert answer.json() == fail_body("Form Validation Errors", BAD_CURSOR)
        for limit in ("0", "1001", "-1", "ten", "1.5", "²"):
            answer = client.get(f"{path}?limit={limit}", headers=as_session(root))
            assert answer.status_code == 400, (limit, answer.text)
            assert answer.json() == fail_body("Form Validation Errors", BAD_LIMIT)
        for fine in ("?limit=1", "?limit=1000", "?cursor=", f"?cursor={forged('at:1:zz')}"):
            assert client.get(f"{path}{fine}", headers=as_session(root)).status_code == 200


def test_a_superuser_walks_an_accounts_sessions(
    settings: Settings, make_server: MakeServer
) -> None:
    made = open_sessions(settings, ANN, 25)
    path = f"/auth/admin/users/{ANN}/sessions"
    with make_server(settings).client() as client:
        root = login(client, ROOT)
        pages = walk(client, f"{path}?limit=10", root)
        ann = login(client, ANN)
        refused = client.get(path, headers=as_session(ann))
        unknown = client.get(
            "/auth/admin/users/nobody@example.org/sessions", headers=as_session(root)
        )
    assert [len(page) for page in pages] == [10, 10, 5]
    assert ids(pages) == made
    assert not any(session["current"] for page in pages for session in page)
    assert refused.status_code == 403
    assert unknown.status_code == 404


def test_the_cli_lists_a_page_of_sessions_and_says_where_the_next_starts(
    settings: Settings,
) -> None:
    made = open_sessions(settings, ANN, 7)
    env = portcullis_env(settings.data_dir, database_url=settings.database_url)
    first = run_cli(env, "user", "sessions", ANN, "--limit", "3")
    assert first.returncode == 0, first.stderr
    rows = first.stdout.splitlines()
    assert rows[0].split("\t")[0] == "ID"
    assert [row.split("\t")[0] for row in rows[1:]] == made[:3]
    (hint,) = first.stderr.splitlines()
    cursor = hint.removeprefix("more: run again with --cursor ")
    second = run_cli(env, "user", "sessions", ANN, "--limit", "3", "--cursor", cursor, "--json")
    assert second.returncode == 0, second.stderr
    assert [line.split('"')[3] for line in second.stdout.splitlines()] == made[3:6]
    every = run_cli(env, "user", "sessions", ANN)
    assert every.stderr == ""
    assert [row.split("\t")[0] for row in every.stdout.splitlines()[1:]] == made
    bad = run_cli(env, "user", "sessions", ANN, "--cursor", "nonsense")
    assert bad.returncode != 0
    assert BAD_CURSOR in bad.stderr
