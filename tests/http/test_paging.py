"""Long lists a page at a time: a limit, a cursor, the next page in ``Link``; in the API
and the CLI."""

from __future__ import annotations

from portcullis.config import Settings
from tests.conftest import MakeServer, SettingsFactory
from tests.paging import NEXT, walk
from tests.processes import portcullis_env, run_cli
from tests.support import add_account, fail_body, login


def people(settings: Settings, count: int) -> list[str]:
    emails = [f"user{n:02d}@example.org" for n in range(count)]
    for email in emails:
        add_account(settings, email)
    return emails


def test_the_user_list_pages_through_every_account_once(
    settings_for: SettingsFactory, make_server: MakeServer
) -> None:
    settings = settings_for()
    add_account(settings, "root@example.org", superuser=True)
    emails = ["root@example.org", *people(settings, 7)]
    server = make_server(settings)
    with server.client() as client:
        root = login(client, "root@example.org")
        pages = walk(client, "/auth/admin/users?limit=3", root)
        assert [len(page) for page in pages] == [3, 3, 2]
        assert [user["email"] for page in pages for user in page] == emails
        # Exactly a page's worth left: the last page says so by having no Link.
        assert [len(page) for page in walk(client, "/auth/admin/users?limit=4", root)] == [4, 4]
        everyone = client.get("/auth/admin/users", headers={"X-Session-Token": root})
        assert "link" not in everyone.headers
        assert len(everyone.json()) == len(emails)


def test_an_audit_walk_is_not_shifted_by_events_written_meanwhile(
    settings_for: SettingsFactory, make_server: MakeServer
) -> None:
    settings = settings_for()
    add_account(settings, "root@example.org", superuser=True)
    people(settings, 4)
    server = make_server(settings)
    with server.client() as client:
        root = login(client, "root@example.org")
        headers = {"X-Session-Token": root}
        before = client.get("/auth/admin/audit?limit=1000", headers=headers).json()
        first = client.get("/auth/admin/audit?limit=2", headers=headers)
        later = NEXT.fullmatch(first.headers["link"]).group(1)  # type: ignore[union-attr]
        # New events land on top of the trail while the walk goes on below.
        login(client, "user00@example.org")
        login(client, "user01@example.org")
        rest = walk(client, later, root)
    walked = first.json() + [event for page in rest for event in page]
    assert walked == before  # every event once, newest first, none skipped or repeated


def test_a_cursor_the_service_did_not_give_is_a_400(
    settings_for: SettingsFactory, make_server: MakeServer
) -> None:
    settings = settings_for()
    add_account(settings, "root@example.org", superuser=True)
    server = make_server(settings)
    with server.client() as client:
        root = login(client, "root@example.org")
        for cursor in ("nonsense", "aWQ6LTE", "%FF", "aWQ6MTIzNDU2Nzg5MDEyMzQ1Njc4OTA", ""):
            for path in ("/auth/admin/users", "/auth/admin/audit"):
                answer = client.get(f"{path}?cursor={cursor}", headers={"X-Session-Token": root})
                if cursor == "":
                    assert answer.status_code == 200, path  # an empty cursor is none
                    continue
                assert answer.status_code == 400, (path, cursor, answer.text)
                expected = (
                    "The address is not valid UTF-8."  # refused before the cursor is read
                    if cursor == "%FF"
                    else "cursor: not a cursor this service gave (start again without one)"
                )
                assert answer.json() == fail_body("Form Validation Errors", expected)


def test_only_superusers_list_users(settings_for: SettingsFactory, make_server: MakeServer) -> None:
    settings = settings_for()
    people(settings, 1)
    server = make_server(settings)
    with server.client() as client:
        token = login(client, "user00@example.org")
        answer = client.get("/auth/admin/users", headers={"X-Session-Token": token})
        assert answer.status_code == 403
        assert client.get("/auth/admin/users").status_code == 401


def test_the_cli_lists_a_page_and_says_where_the_next_starts(
    settings_for: SettingsFactory,
) -> None:
    settings = settings_for()
    emails = people(settings, 5)
    env = portcullis_env(settings.data_dir, database_url=settings.database_url)
    first = run_cli(env, "user", "list", "--limit", "2")
    assert first.returncode == 0, first.stderr
    assert [row.split("\t")[0] for row in first.stdout.splitlines()] == ["EMAIL", *emails[:2]]
    (hint,) = first.stderr.splitlines()
    cursor = hint.removeprefix("more: run again with --cursor ")
    second = run_cli(env, "user", "list", "--limit", "2", "--cursor", cursor, "--json")
    assert second.returncode == 0, second.stderr
    assert [line.split('"')[3] for line in second.stdout.splitlines()] == emails[2:4]
    everyone = run_cli(env, "user", "list")
    assert everyone.stdout.splitlines()[1:] and everyone.stderr == ""
    assert [row.split("\t")[0] for row in everyone.stdout.splitlines()[1:]] == emails
    bad = run_cli(env, "audit", "--cursor", "nonsense")
    assert bad.returncode != 0
    assert "cursor: not a cursor this service gave" in bad.stderr
