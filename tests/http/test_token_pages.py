"""GET /auth/tokens, /auth/services and /auth/services/{name}/tokens a page at a time,
and ``portcullis token list`` and ``service list`` with --limit/--cursor."""

from __future__ import annotations

import base64

import pytest

from portcullis.config import Settings
from portcullis.core.models import TokenScope
from portcullis.services import Services
from portcullis.storage.tables import access_tokens
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


def make_tokens(settings: Settings, login_name: str, count: int, per_second: int = 1) -> list[str]:
    """``count`` new tokens of the account (or service), their ids newest first, dated
    back over many seconds, ``per_second`` in each."""

    async def run(services: Services) -> list[str]:
        account = await services.hot_path.by_login(login_name)
        assert account is not None
        made = []
        for n in range(count):
            issued = await services.tokens.create(account, f"pipeline {n}", TokenScope.READ)
            made.append(issued.access_token.id)
        return made

    newest_first = list(reversed(run_core(settings, run)))
    spread_in_time(settings, access_tokens, newest_first, per_second)
    return newest_first


def add_services(settings: Settings, count: int) -> list[str]:
    names = [f"ingest{n:02d}" for n in range(count)]

    async def run(services: Services) -> None:
        for name in names:
            await services.service_accounts.add(name, ["S-BSST1"])

    run_core(settings, run)
    return names


@pytest.fixture
def settings(settings_for: SettingsFactory) -> Settings:
    return with_root_and_ann(settings_for())


def test_a_walk_shows_every_token_once_newest_first(
    settings: Settings, make_server: MakeServer
) -> None:
    made = make_tokens(settings, ANN, 250, per_second=4)
    with make_server(settings).client() as client:
        ann = login(client, ANN)
        pages = walk(client, "/auth/tokens?limit=9", ann)
        everyone = client.get("/auth/tokens?limit=1000", headers=as_session(ann))
        first = client.get("/auth/tokens", headers=as_session(ann))
    walked = [token["id"] for page in pages for token in page]
    assert [len(page) for page in pages] == [9] * 27 + [7]
    assert sorted(walked) == sorted(made) and len(set(walked)) == 250
    times = [stored_times(settings, access_tokens)[token_id] for token_id in walked]
    assert times == sorted(times, reverse=True)
    assert [token["id"] for token in everyone.json()] == walked
    assert "link" not in everyone.headers
    assert all("token" not in token for page in pages for token in page)
    assert len(first.json()) == 100 and next_page(first) is not None  # the default page


def test_a_walk_is_not_shifted_by_tokens_made_or_revoked_meanwhile(
    settings: Settings, make_server: MakeServer
) -> None:
    make_tokens(settings, ANN, 30)
    with make_server(settings).client() as client:
        ann = as_session(login(client, ANN))
        before = client.get("/auth/tokens?limit=1000", headers=ann).json()
        first = client.get("/auth/tokens?limit=8", headers=ann)
        later = next_page(first)
        assert later is not None
        made = client.post("/auth/tokens", json={"name": "new", "scope": "read"}, headers=ann)
        assert made.status_code == 201
        last_shown = first.json()[-1]["id"]
        assert client.delete(f"/auth/tokens/{last_shown}", headers=ann).status_code == 200
        rest = walk(client, later, ann["X-Session-Token"])
    assert first.json() + [token for page in rest for token in page] == before


def test_a_superuser_walks_the_services_and_a_services_tokens(
    settings: Settings, make_server: MakeServer
) -> None:
    names = add_services(settings, 5)
    made = make_tokens(settings, "ingest02", 12)
    with make_server(settings).client() as client:
        root = login(client, ROOT)
        services = walk(client, "/auth/services?limit=2", root)
        tokens = walk(client, "/auth/services/ingest02/tokens?limit=5", root)
        ann = as_session(login(client, ANN))
        refused = [
            client.get(path, headers=ann).status_code
            for path in ("/auth/services", "/auth/services/ingest02/tokens")
        ]
    assert [len(page) for page in services] == [2, 2, 1]
    assert [service["name"] for page in services for service in page] == names
    assert [len(page) for page in tokens] == [5, 5, 2]
    assert [token["id"] for page in tokens for token in page] == made
    assert refused == [403, 403]


@pytest.mark.parametrize("path", ["/auth/tokens", "/auth/services", "/auth/services/s/tokens"])
def test_a_bad_cursor_or_limit_is_a_400(
    settings: Settings, make_server: MakeServer, path: str
) -> None:
    run_core(settings, lambda services: services.service_accounts.add("s"))
    # Each list refuses the other kind of cursor: services go by id, tokens by position.
    other = "at:1:abc" if path == "/auth/services" else "id:1"
    forged = base64.urlsafe_b64encode(other.encode()).decode().rstrip("=")
    with make_server(settings).client() as client:
        root = login(client, ROOT)
        for cursor in ("nonsense", forged):
            answer = client.get(f"{path}?cursor={cursor}", headers=as_session(root))
            assert answer.status_code == 400, (cursor, answer.text)
            assert answer.json() == fail_body("Form Validation Errors", BAD_CURSOR)
        for limit in ("0", "1001", "x"):
            answer = client.get(f"{path}?limit={limit}", headers=as_session(root))
            assert answer.status_code == 400, (limit, answer.text)
        assert client.get(f"{path}?limit=1000", headers=as_session(root)).status_code == 200


def test_the_cli_lists_tokens_and_services_a_page_at_a_time(settings: Settings) -> None:
    made = make_tokens(settings, ANN, 5)
    names = add_services(settings, 3)
    env = portcullis_env(settings.data_dir, database_url=settings.database_url)
    first = run_cli(env, "token", "list", ANN, "--limit", "2")
    assert first.returncode == 0, first.stderr
    assert [row.split("\t")[0] for row in first.stdout.splitlines()] == made[:2]
    (hint,) = first.stderr.splitlines()
    cursor = hint.removeprefix("more: run again with --cursor ")
    second = run_cli(env, "token", "list", ANN, "--limit", "2", "--cursor", cursor)
    assert [row.split("\t")[0] for row in second.stdout.splitlines()] == made[2:4]
    every = run_cli(env, "token", "list", ANN)
    assert [row.split("\t")[0] for row in every.stdout.splitlines()] == made
    assert every.stderr == ""
    services = run_cli(env, "service", "list", "--limit", "2")
    assert [row.split("\t")[0] for row in services.stdout.splitlines()] == names[:2]
    assert services.stderr.startswith("more: run again with --cursor ")
    bad = run_cli(env, "token", "list", ANN, "--cursor", "nonsense")
    assert bad.returncode != 0 and BAD_CURSOR in bad.stderr
