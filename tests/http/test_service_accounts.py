"""Service accounts (/auth/services, `portcullis service`) and POST /auth/introspect."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from portcullis.cli import app
from portcullis.config import Settings
from tests.conftest import MakeServer, SettingsFactory
from tests.support import RunningServer, add_account, audit_rows, login
from tests.tokens import expire_token, make_token

ROOT = "root@example.org"
ANN = "ann@example.org"


@pytest.fixture
def client(server: RunningServer, settings: Settings) -> httpx.Client:
    add_account(settings, ROOT, superuser=True)
    add_account(settings, ANN, username="ann")
    with server.client() as client:
        yield client  # type: ignore[misc]


def as_session(token: str) -> dict[str, str]:
    return {"X-Session-Token": token}


def add_service(client: httpx.Client, name: str = "ingest", tags: list[str] | None = None) -> str:
    """Make the service as the superuser; a read token of it."""
    root = login(client, ROOT)
    made = client.post(
        "/auth/services", json={"name": name, "tags": tags or ["S-BSST1"]}, headers=as_session(root)
    )
    assert made.status_code == 201, made.text
    token = client.post(
        f"/auth/services/{name}/tokens",
        json={"name": "ci", "scope": "read"},
        headers=as_session(root),
    )
    assert token.status_code == 201, token.text
    return str(token.json()["token"])


def introspect(client: httpx.Client, caller: str, token: object, **kwargs: Any) -> httpx.Response:
    return client.post(
        "/auth/introspect", data={"token": token}, headers={"Authorization": f"Bearer {caller}"}
    )


class TestServiceAccounts:
    def test_a_superuser_makes_one_whose_token_passes_forward_auth(
        self, client: httpx.Client
    ) -> None:
        token = add_service(client)
        assert token.startswith("pcsvc_")
        answer = client.get("/auth/verify", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200
        assert answer.headers["x-portcullis-token-kind"] == "service"
        assert answer.headers["x-portcullis-username"] == "ingest"
        assert answer.headers["x-portcullis-allow"] == "S-BSST1"
        listed = client.get("/auth/services", headers=as_session(login(client, ROOT)))
        assert [s["name"] for s in listed.json()] == ["ingest"]

    def test_nobody_else_may(self, client: httpx.Client) -> None:
        ann = login(client, ANN)
        made = client.post("/auth/services", json={"name": "x"}, headers=as_session(ann))
        assert made.status_code == 403
        assert client.get("/auth/services", headers=as_session(ann)).status_code == 403

    def test_a_taken_or_bad_name_is_400(self, client: httpx.Client) -> None:
        add_service(client)
        root = as_session(login(client, ROOT))
        for body in (
            {"name": "ingest"},
            {"name": "ann"},
            {"name": ""},
            {"name": "a b"},
            {"name": "ok", "tags": ["bad\u0000"]},
            {"name": 7},
        ):
            assert client.post("/auth/services", json=body, headers=root).status_code == 400, body

    def test_it_cannot_sign_in_nor_be_signed_in_as(self, client: httpx.Client) -> None:
        add_service(client)
        for login_name in ("ingest", "ingest@service.invalid"):
            answer = client.post("/auth/login", json={"login": login_name, "password": ""})
            assert answer.status_code == 401

    def test_no_superuser_can_log_in_as_it(
        self, settings_for: SettingsFactory, make_server: MakeServer
    ) -> None:
        settings = settings_for(impersonation=True)
        add_account(settings, ROOT, superuser=True)
        with make_server(settings).client() as client:
            add_service(client)
            root = login(client, ROOT)
            answer = client.post("/auth/login", json={"login": "ingest", "password": root})
            assert answer.status_code == 401
        refused = [row["detail"] for row in audit_rows(settings) if row["kind"] == "impersonation"]
        assert refused == ["refused_service"]

    def test_its_tokens_are_revoked_by_the_superuser(self, client: httpx.Client) -> None:
        token = add_service(client)
        root = as_session(login(client, ROOT))
        listed = client.get("/auth/services/ingest/tokens", headers=root).json()
        revoked = client.delete(f"/auth/services/ingest/tokens/{listed[0]['id']}", headers=root)
        assert revoked.status_code == 200
        assert (
            client.get("/auth/verify", headers={"Authorization": f"Bearer {token}"}).status_code
            == 401
        )

    def test_the_cli_makes_one_and_its_token(
        self, settings: Settings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PORTCULLIS_DATA_DIR", str(settings.data_dir))
        monkeypatch.setenv("PORTCULLIS_DATABASE_URL", settings.resolved_database_url)
        runner = CliRunner()
        added = runner.invoke(app, ["service", "add", "pipeline", "--tag", "S-A", "--tag", "S-B"])
        assert added.exit_code == 0, added.output
        assert "pipeline\tS-A,S-B" in added.output
        made = runner.invoke(
            app, ["token", "create", "pipeline", "--name", "nightly", "--days", "7"]
        )
        assert made.exit_code == 0, made.output
        token_id, token = made.output.splitlines()[0].split("\t")[0], made.output.splitlines()[1]
        assert token.startswith("pcsvc_")
        listed = runner.invoke(app, ["token", "list", "pipeline"])
        assert token_id in listed.output and token not in listed.output
        assert runner.invoke(app, ["token", "revoke", "pipeline", token_id]).exit_code == 0
        assert runner.invoke(app, ["token", "revoke", "pipeline", token_id]).exit_code == 1


class TestIntrospection:
    def test_a_live_session_token(self, client: httpx.Client) -> None:
        service = add_service(client)
        ann = login(client, ANN)
        answer = introspect(client, service, ann)
        assert answer.status_code == 200
        body = answer.json()
        assert body["active"] is True
        assert (body["email"], body["username"], body["token_type"]) == (ANN, "ann", "session")
        assert body["sub"].isdigit() and body["exp"] > body["iat"] > 0
        assert body["allow"] == []

    def test_a_personal_token_with_its_scope(self, client: httpx.Client) -> None:
        service = add_service(client)
        made = make_token(client, login(client, ANN), "full")
        body = introspect(client, service, made["token"]).json()
        assert (body["active"], body["token_type"], body["scope"]) == (True, "personal", "full")

    def test_inactive_tokens_say_only_so(self, client: httpx.Client, settings: Settings) -> None:
        service = add_service(client)
        made = make_token(client, login(client, ANN))
        expire_token(settings, made["id"])
        for token in ("nope", made["token"], "pcpat_" + "x" * 43, "x" * 5000):
            answer = introspect(client, service, token)
            assert answer.status_code == 200
            assert answer.json() == {"active": False}

    def test_json_bodies_are_read_too(self, client: httpx.Client) -> None:
        service = add_service(client)
        answer = client.post(
            "/auth/introspect",
            json={"token": login(client, ANN)},
            headers={"Authorization": f"Bearer {service}"},
        )
        assert answer.json()["active"] is True

    def test_only_a_service_may_ask(self, client: httpx.Client) -> None:
        ann = login(client, ANN)
        personal = make_token(client, ann, "full")["token"]
        assert introspect(client, ann, ann).status_code == 403
        assert introspect(client, personal, ann).status_code == 403
        refused = introspect(client, "nope", ann)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert client.post("/auth/introspect", data={"token": ann}).status_code == 401

    def test_a_missing_token_is_400(self, client: httpx.Client) -> None:
        service = add_service(client)
        headers = {"Authorization": f"Bearer {service}"}
        assert client.post("/auth/introspect", headers=headers).status_code == 400
        assert (
            client.post("/auth/introspect", json={"token": 5}, headers=headers).status_code == 400
        )
        assert client.post("/auth/introspect", content=b"\xff", headers=headers).status_code == 400


def test_its_tags_change_as_any_accounts_do(client: httpx.Client) -> None:
    token = add_service(client, tags=["S-A"])
    root = as_session(login(client, ROOT))
    granted = client.post(
        "/auth/admin/users/ingest@service.invalid/permissions",
        json={"accessTag": "S-B"},
        headers=root,
    )
    assert granted.status_code == 200, granted.text
    answer = client.get("/auth/verify", headers={"Authorization": f"Bearer {token}"})
    assert answer.headers["x-portcullis-allow"] == "S-A,S-B"
