"""GET /auth/sessions, DELETE /auth/sessions/{id}, POST /auth/logout/all, and the superuser's."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from portcullis.cli import app
from portcullis.config import Settings
from tests.support import RunningServer, add_account, login


def auth(token: str) -> dict[str, str]:
    return {"X-Session-Token": token}


@pytest.fixture
def people(settings: Settings) -> None:
    add_account(settings, "ann@example.org")
    add_account(settings, "bob@example.org")
    add_account(settings, "root@example.org", superuser=True)


class TestOwnSessions:
    def test_lists_the_callers_sessions_without_tokens(
        self, server: RunningServer, people: None
    ) -> None:
        with server.client(headers={"User-Agent": "laptop"}) as laptop:
            first = login(laptop, "ann@example.org")
        with server.client(headers={"User-Agent": "phone"}) as phone:
            second = login(phone, "ann@example.org")
            login(phone, "bob@example.org")
            answer = phone.get("/auth/sessions", headers=auth(second))
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "no-store"
        listed = answer.json()
        assert sorted((s["userAgent"], s["current"]) for s in listed) == [
            ("laptop", False),
            ("phone", True),
        ]
        assert {s["clientAddress"] for s in listed} == {"127.0.0.1"}
        assert all(s["id"] and s["created"] and s["lastActivity"] for s in listed)
        assert first not in answer.text and second not in answer.text

    def test_ends_one_session_by_id(self, server: RunningServer, people: None) -> None:
        with server.client() as client:
            mine, other = login(client, "ann@example.org"), login(client, "ann@example.org")
            listed = client.get("/auth/sessions", headers=auth(mine)).json()
            other_id = next(s["id"] for s in listed if not s["current"])
            assert (
                client.delete(f"/auth/sessions/{other_id}", headers=auth(mine)).status_code == 200
            )
            assert client.get("/auth/profile", headers=auth(other)).status_code == 401
            assert client.get("/auth/profile", headers=auth(mine)).status_code == 200
            again = client.delete(f"/auth/sessions/{other_id}", headers=auth(mine))
            assert again.status_code == 404

    def test_cannot_end_someone_elses_session(self, server: RunningServer, people: None) -> None:
        with server.client() as client:
            ann, bob = login(client, "ann@example.org"), login(client, "bob@example.org")
            bob_id = client.get("/auth/sessions", headers=auth(bob)).json()[0]["id"]
            assert client.delete(f"/auth/sessions/{bob_id}", headers=auth(ann)).status_code == 404
            assert client.get("/auth/profile", headers=auth(bob)).status_code == 200

    def test_logout_everywhere(self, server: RunningServer, people: None) -> None:
        with server.client() as client:
            tokens = [login(client, "ann@example.org") for _ in range(3)]
            bob = login(client, "bob@example.org")
            answer = client.post("/auth/logout/all", headers=auth(tokens[0]))
            assert answer.status_code == 200
            assert answer.json() == {"ended": 3}
            for token in tokens:
                assert client.get("/auth/profile", headers=auth(token)).status_code == 401
            assert client.get("/auth/profile", headers=auth(bob)).status_code == 200

    @pytest.mark.parametrize(
        ("method", "path"),
        [("GET", "/auth/sessions"), ("DELETE", "/auth/sessions/x"), ("POST", "/auth/logout/all")],
    )
    def test_need_a_session(self, server: RunningServer, method: str, path: str) -> None:
        with server.client() as client:
            answer = client.request(method, path, headers=auth("nonsense"))
        assert answer.status_code == 401
        assert answer.json()["status"] == "FAIL"


class TestSuperuser:
    def test_lists_and_ends_anyones_sessions(self, server: RunningServer, people: None) -> None:
        with server.client() as client:
            root = login(client, "root@example.org")
            ann = [login(client, "ann@example.org") for _ in range(2)]
            listed = client.get("/auth/admin/users/ann@example.org/sessions", headers=auth(root))
            assert listed.status_code == 200
            assert len(listed.json()) == 2
            one = listed.json()[0]["id"]
            path = f"/auth/admin/users/ann@example.org/sessions/{one}"
            assert client.delete(path, headers=auth(root)).status_code == 200
            alive = [client.get("/auth/profile", headers=auth(t)).status_code for t in ann]
            assert sorted(alive) == [200, 401]
            ended = client.post("/auth/admin/users/ann@example.org/logout-all", headers=auth(root))
            assert ended.json() == {"ended": 1}
            assert all(client.get("/auth/profile", headers=auth(t)).status_code == 401 for t in ann)

    def test_others_are_refused(self, server: RunningServer, people: None) -> None:
        with server.client() as client:
            bob = login(client, "bob@example.org")
            ann = login(client, "ann@example.org")
            listed = client.get("/auth/admin/users/ann@example.org/sessions", headers=auth(bob))
            ended = client.post("/auth/admin/users/ann@example.org/logout-all", headers=auth(bob))
            assert (listed.status_code, ended.status_code) == (403, 403)
            assert client.get("/auth/profile", headers=auth(ann)).status_code == 200

    def test_unknown_account_is_404(self, server: RunningServer, people: None) -> None:
        with server.client() as client:
            root = login(client, "root@example.org")
            answer = client.get("/auth/admin/users/nobody@example.org/sessions", headers=auth(root))
        assert answer.status_code == 404


def cli_env(settings: Settings) -> dict[str, str]:
    return {
        "PORTCULLIS_DATA_DIR": str(settings.data_dir),
        "PORTCULLIS_DATABASE_URL": settings.database_url,
        "PORTCULLIS_ARGON2_MEMORY_KIB": "1024",
        "PORTCULLIS_ARGON2_TIME_COST": "1",
    }


def test_cli_lists_and_ends_sessions(server: RunningServer, people: None) -> None:
    with server.client(headers={"User-Agent": "tablet"}) as client:
        token = login(client, "ann@example.org")
    runner = CliRunner()
    env = cli_env(server.settings)
    listed = runner.invoke(app, ["user", "sessions", "ann@example.org"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "tablet" in listed.output and "127.0.0.1" in listed.output
    assert token not in listed.output
    ended = runner.invoke(app, ["user", "logout-all", "ann@example.org"], env=env)
    assert ended.exit_code == 0, ended.output
    assert "ended 1 session" in ended.output
    with server.client() as client:
        assert client.get("/auth/profile", headers=auth(token)).status_code == 401
