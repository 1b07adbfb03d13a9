"""Access types on tags, and check-registration's user record as the real service's."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from portcullis.cli import app
from tests.http.test_sessions_api import cli_env
from tests.support import RunningServer, add_account, audit_rows, login

USER = "/auth/admin/users/ann@example.org"


@pytest.fixture
def root(server: RunningServer) -> dict[str, str]:
    add_account(server.settings, "ann@example.org", full_name="Ann", username="ann")
    add_account(server.settings, "root@example.org", superuser=True)
    with server.client() as client:
        return {"X-Session-Token": login(client, "root@example.org")}


def grant(server: RunningServer, headers: dict[str, str], tag: str, access: str | None) -> Any:
    body = {"accessTag": tag, **({"accessType": access} if access else {})}
    with server.client() as client:
        return client.post(f"{USER}/permissions", json=body, headers=headers)


def record(server: RunningServer, headers: dict[str, str]) -> dict[str, Any]:
    with server.client() as client:
        answer = client.post(
            "/auth/check-registration",
            json={"userEmail": "ann@example.org", "userName": "x"},
            headers=headers,
        )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


class TestCheckRegistrationRecord:
    def test_has_every_field_of_the_real_services_user(
        self, server: RunningServer, root: dict[str, str]
    ) -> None:
        found = record(server, root)
        assert set(found) >= {
            "id",
            "email",
            "fullName",
            "login",
            "orcid",
            "secret",
            "superuser",
            "lastActivity",
            "userFolder",
            "groupsFolders",
            "permissions",
            "adminCollections",
            "notificationsEnabled",
        }
        assert found["login"] == "ann"
        assert found["orcid"] == ""
        assert found["superuser"] is False
        assert found["lastActivity"] is None  # never signed in
        assert set(found["userFolder"]) == {"relativePath", "path", "type"}
        assert (found["permissions"], found["adminCollections"]) == ([], [])


class TestAccessTypes:
    def test_each_type_lands_where_the_clients_read_it(
        self, server: RunningServer, root: dict[str, str]
    ) -> None:
        for tag, access in [("S-READ", None), ("S-ATT", "ATTACH"), ("S-ADM", "admin")]:
            answer = grant(server, root, tag, access)
            assert (answer.status_code, answer.json()) == (200, {"changed": True}), answer.text
        found = record(server, root)
        assert found["permissions"] == [
            {"accessType": "READ", "accessTag": "S-READ"},
            {"accessType": "ATTACH", "accessTag": "S-ATT"},
            {"accessType": "ADMIN", "accessTag": "S-ADM"},
        ]
        assert found["adminCollections"] == ["S-ADM"]
        with server.client() as client:
            profile = client.post(
                "/auth/login", json={"login": "ann", "password": "a sturdy test passphrase"}
            ).json()
        assert profile["allow"] == ["ann@example.org", "Public", "S-READ"]

    def test_granting_what_is_held_changes_nothing_and_says_so(
        self, server: RunningServer, root: dict[str, str]
    ) -> None:
        assert grant(server, root, "S-1", "UPDATE").json() == {"changed": True}
        assert grant(server, root, "S-1", "UPDATE").json() == {"changed": False}
        grants = [r for r in audit_rows(server.settings) if "grant" in (r["detail"] or "")]
        assert [r["detail"] for r in grants] == ["grant UPDATE S-1"]
        assert len(record(server, root)["permissions"]) == 1

    def test_revoking_one_type_keeps_the_others(
        self, server: RunningServer, root: dict[str, str]
    ) -> None:
        grant(server, root, "S-1", "READ")
        grant(server, root, "S-1", "DELETE_FILES")
        with server.client() as client:
            gone = client.delete(f"{USER}/permissions/DELETE_FILES/S-1", headers=root)
            again = client.delete(f"{USER}/permissions/DELETE_FILES/S-1", headers=root)
        assert gone.status_code == 200
        assert again.status_code == 404
        assert record(server, root)["permissions"] == [{"accessType": "READ", "accessTag": "S-1"}]

    @pytest.mark.parametrize(
        "body",
        [{"accessTag": "S-1", "accessType": "OWN"}, {"accessType": "READ"}, {"accessTag": 5}],
    )
    def test_bad_grants_are_400(
        self, server: RunningServer, root: dict[str, str], body: dict[str, Any]
    ) -> None:
        with server.client() as client:
            answer = client.post(f"{USER}/permissions", json=body, headers=root)
        assert answer.status_code == 400
        assert answer.json()["status"] == "FAIL"

    def test_only_superusers_grant(self, server: RunningServer, root: dict[str, str]) -> None:
        with server.client() as client:
            ann = {"X-Session-Token": login(client, "ann")}
        assert grant(server, ann, "S-1", "ADMIN").status_code == 403
        assert grant(server, {}, "S-1", "ADMIN").status_code == 401
        assert record(server, root)["permissions"] == []


def test_the_cli_grants_with_an_access_type(server: RunningServer, root: dict[str, str]) -> None:
    runner = CliRunner(env=cli_env(server.settings))
    first = runner.invoke(app, ["user", "grant", "ann@example.org", "S-9", "--access", "attach"])
    second = runner.invoke(app, ["user", "grant", "ann@example.org", "S-9", "--access", "ATTACH"])
    assert first.exit_code == 0, first.output
    assert "granted ATTACH on S-9" in first.output
    assert "nothing changed" in second.output
    listed = runner.invoke(app, ["user", "list"])
    assert "S-9:ATTACH" in listed.output
    assert record(server, root)["permissions"] == [{"accessType": "ATTACH", "accessTag": "S-9"}]
