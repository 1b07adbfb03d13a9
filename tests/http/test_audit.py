"""The audit trail: every event written, no secret in it, readable by superusers only."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from portcullis.cli import app
from tests.conftest import MakeServer, SettingsFactory
from tests.http.test_sessions_api import cli_env
from tests.support import PASSWORD, add_account, audit_rows, login, wrong_logins

NEW_PASSWORD = "another sturdy passphrase"


def test_every_event_is_written_and_none_holds_a_secret(
    settings_for: SettingsFactory, make_server: MakeServer
) -> None:
    settings = settings_for(login_lockout_threshold=2, login_lockout_base_seconds=60)
    add_account(settings, "root@example.org", superuser=True)
    add_account(settings, "pending@example.org", active=False)
    server = make_server(settings)
    secrets: list[str] = [PASSWORD, NEW_PASSWORD]
    link = {"instanceKey": "default", "path": "activate"}
    with server.client(headers={"User-Agent": "audit-test"}) as client:
        register = {"email": "new@example.org", "password": PASSWORD, "name": "New", **link}
        assert client.post("/auth/register", json=register).status_code == 201
        key = server.wait_for_mail("new@example.org").key
        assert client.post(f"/auth/activate/{key}").status_code == 200
        secrets.append(key)
        token = login(client, "new@example.org")
        secrets.append(token)
        assert client.post("/auth/logout", headers={"X-Session-Token": token}).status_code == 200
        secrets.append(login(client, "new@example.org"))
        assert client.post("/auth/logout/all", headers={"X-Session-Token": secrets[-1]}).json()
        wrong_logins(client, "nobody@example.org", 1)
        client.post("/auth/login", json={"login": "pending@example.org", "password": PASSWORD})
        wrong_logins(client, "new@example.org", 2)  # the second starts a hold
        client.post("/auth/login", json={"login": "new@example.org", "password": PASSWORD})
        reset = {"email": "new@example.org", "instanceKey": "default", "path": "reset"}
        assert client.post("/auth/password/reset", json=reset).status_code == 200
        reset_key = server.wait_for_mail("new@example.org", "").key
        secrets.append(reset_key)
        change = {"activationKey": reset_key, "password": NEW_PASSWORD}
        assert client.post("/auth/password/change", json=change).status_code == 200
        root = login(client, "root@example.org")
        secrets.append(root)
        ended = client.post(
            "/auth/admin/users/new@example.org/logout-all", headers={"X-Session-Token": root}
        )
        assert ended.status_code == 200
        made = client.post(
            "/auth/check-registration",
            json={"userEmail": "made@example.org", "userName": "Made"},
            headers={"X-Session-Token": root},
        )
        assert made.status_code == 200

    rows = audit_rows(settings)
    kinds = {row["kind"] for row in rows}
    assert kinds >= {
        "admin_action",
        "registered",
        "activated",
        "login_succeeded",
        "logout",
        "logout_everywhere",
        "login_failed",
        "lockout_started",
        "reset_requested",
        "password_changed",
    }
    reasons = {row["detail"] for row in rows if row["kind"] == "login_failed"}
    assert reasons == {"bad_password", "unknown_account", "inactive", "locked"}
    unknown = next(row for row in rows if row["detail"] == "unknown_account")
    # A name that matches no account is kept only as its keyed hash (it may be a password).
    assert re.fullmatch("name:[0-9a-f]{32}", unknown["subject"]), unknown["subject"]
    assert unknown["account_id"] is None
    assert unknown["client_address"] == "127.0.0.1"
    assert unknown["user_agent"] == "audit-test"
    by_root = next(row for row in rows if row["kind"] == "logout_everywhere" and row["actor_id"])
    assert by_root["subject"] == "new@example.org"
    made_by_root = next(row for row in rows if row["subject"] == "made@example.org")
    assert made_by_root["kind"] == "admin_action"
    # What a superuser does through the API is recorded with where it came from.
    for row in (by_root, made_by_root):
        assert (row["client_address"], row["user_agent"]) == ("127.0.0.1", "audit-test")
    everything = " ".join(str(value) for row in rows for value in row.values())
    for secret in [*secrets, "nobody@example.org"]:
        assert secret not in everything


def test_superusers_read_it_through_the_api(
    settings_for: SettingsFactory, make_server: MakeServer
) -> None:
    settings = settings_for()
    add_account(settings, "root@example.org", superuser=True)
    add_account(settings, "ann@example.org")
    server = make_server(settings)
    with server.client() as client:
        wrong_logins(client, "ann@example.org", 1)
        ann = login(client, "ann@example.org")
        root = login(client, "root@example.org")
        refused = client.get("/auth/admin/audit", headers={"X-Session-Token": ann})
        mine = client.get(
            "/auth/admin/audit",
            params={"user": "ann@example.org", "since": "2000-01-01", "limit": "10"},
            headers={"X-Session-Token": root},
        )
        future = client.get(
            "/auth/admin/audit", params={"since": "2999-01-01"}, headers={"X-Session-Token": root}
        )
        bad = client.get(
            "/auth/admin/audit", params={"since": "yesterday"}, headers={"X-Session-Token": root}
        )
    assert refused.status_code == 403
    assert mine.status_code == 200
    assert [(e["kind"], e["detail"]) for e in mine.json()] == [
        ("login_succeeded", None),
        ("login_failed", "bad_password"),
        ("admin_action", "add_user"),
    ]
    assert future.json() == []
    assert bad.status_code == 400


def test_the_cli_prints_json_lines(settings_for: SettingsFactory, make_server: MakeServer) -> None:
    settings = settings_for()
    add_account(settings, "ann@example.org")
    server = make_server(settings)
    with server.client() as client:
        login(client, "ann@example.org")
    runner = CliRunner()
    env = cli_env(settings)
    result = runner.invoke(app, ["audit", "--user", "ann@example.org", "--json"], env=env)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["kind"] for line in lines] == ["login_succeeded", "admin_action"]
    plain = runner.invoke(app, ["audit", "--since", "2999-01-01"], env=env)
    assert (plain.exit_code, plain.output) == (0, "")
    bad = runner.invoke(app, ["audit", "--since", "soon"], env=env)
    assert bad.exit_code == 1
