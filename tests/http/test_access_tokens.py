"""Personal access tokens: /auth/tokens, their scopes wherever a session token works."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from portcullis.config import Settings
from tests.conftest import MakeServer, SettingsFactory
from tests.support import PASSWORD, RunningServer, add_account, audit_rows, grant, login
from tests.tokens import expire_token, make_token, run_core

ANN = "ann@example.org"


@pytest.fixture
def ann(settings: Settings) -> None:
    add_account(settings, ANN, username="ann")
    grant(settings, ANN, "S-BSST1")


@pytest.fixture
def client(server: RunningServer, ann: None) -> httpx.Client:
    with server.client() as client:
        yield client  # type: ignore[misc]


def session_of(client: httpx.Client) -> str:
    return login(client, ANN)


def as_token(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class TestMaking:
    def test_shown_once_with_its_prefix_and_listed_without_it(self, client: httpx.Client) -> None:
        session = session_of(client)
        made = make_token(client, session, "full", expiresInDays=30)
        assert made["token"].startswith("pcpat_") and len(made["token"]) > 40
        assert (made["name"], made["scope"], made["kind"]) == ("full pipeline", "full", "personal")
        listed = client.get("/auth/tokens", headers={"X-Session-Token": session})
        assert listed.status_code == 200
        assert [t["id"] for t in listed.json()] == [made["id"]]
        assert made["token"] not in listed.text
        assert listed.json()[0]["lastUsed"] is None

    def test_the_longest_lifetime_is_the_default_and_the_limit(
        self, settings_for: SettingsFactory, make_server: MakeServer
    ) -> None:
        settings = settings_for(access_token_max_days=10)
        add_account(settings, ANN)
        with make_server(settings).client() as client:
            session = session_of(client)
            made = make_token(client, session)
            assert made["expires"][:10] > made["created"][:10]
            too_long = client.post(
                "/auth/tokens",
                json={"name": "x", "expiresInDays": 11},
                headers={"X-Session-Token": session},
            )
            assert too_long.status_code == 400
            assert "1 to 10 days" in too_long.text

    @pytest.mark.parametrize(
        "body",
        [
            {"name": ""},
            {"name": "x" * 101},
            {"name": "a\u0000b"},
            {"name": "tab\there"},
            {"name": "ok", "scope": "admin"},
            {"name": "ok", "expiresInDays": 0},
            {"name": "ok", "expiresInDays": "soon"},
            {"name": "ok", "expiresInDays": 45513203361},  # past what a timedelta holds
            {"name": "ok", "expiresInDays": -(10**12)},
            {"name": ["not", "text"]},
            {},
        ],
    )
    def test_bad_input_is_400(self, client: httpx.Client, body: dict[str, object]) -> None:
        answer = client.post(
            "/auth/tokens", json=body, headers={"X-Session-Token": session_of(client)}
        )
        assert answer.status_code == 400, answer.text

    def test_a_token_cannot_make_or_list_tokens(self, client: httpx.Client) -> None:
        full = make_token(client, session_of(client), "full")["token"]
        assert client.get("/auth/tokens", headers=as_token(full)).status_code == 403
        made = client.post("/auth/tokens", json={"name": "x"}, headers=as_token(full))
        assert made.status_code == 403

    def test_made_first_used_and_revoked_are_audited(
        self, client: httpx.Client, settings: Settings
    ) -> None:
        session = session_of(client)
        made = make_token(client, session)
        for _ in range(3):
            assert client.get("/auth/verify", headers=as_token(made["token"])).status_code == 200
        client.delete(f"/auth/tokens/{made['id']}", headers={"X-Session-Token": session})
        kinds = [row["kind"] for row in audit_rows(settings) if row["kind"].startswith("token_")]
        assert kinds == ["token_created", "token_first_used", "token_revoked"]
        assert all(made["token"] not in str(row) for row in audit_rows(settings))

    def test_a_first_use_raced_by_many_checks_is_audited_once(
        self, client: httpx.Client, server: RunningServer, settings: Settings
    ) -> None:
        token = make_token(client, session_of(client))["token"]

        def check(_: int) -> int:
            with server.client() as own:
                return own.get("/auth/verify", headers=as_token(token)).status_code

        with ThreadPoolExecutor(max_workers=12) as pool:
            assert set(pool.map(check, range(24))) == {200}
        firsts = [row for row in audit_rows(settings) if row["kind"] == "token_first_used"]
        assert len(firsts) == 1


class TestScopes:
    def test_read_sees_the_profile_and_passes_forward_auth_only(self, client: httpx.Client) -> None:
        read = make_token(client, session_of(client), "read")["token"]
        profile = client.get("/auth/profile", headers={"X-Session-Token": read})
        assert profile.status_code == 200 and profile.json()["email"] == ANN
        verified = client.get("/auth/verify", headers=as_token(read))
        assert verified.status_code == 200
        assert verified.headers["x-portcullis-token-kind"] == "personal"
        assert verified.headers["x-portcullis-allow"] == "S-BSST1"
        assert client.get("/auth/sessions", headers={"X-Session-Token": read}).status_code == 403
        assert (
            client.get("/api/user", headers={"Authorization": f"Token {read}"}).status_code == 200
        )
        update = client.post(
            "/api/user", json={"first_name": "A"}, headers={"Authorization": f"Token {read}"}
        )
        assert update.status_code == 403

    def test_full_acts_but_never_changes_the_password(self, client: httpx.Client) -> None:
        full = make_token(client, session_of(client), "full")["token"]
        assert client.get("/auth/sessions", headers={"X-Session-Token": full}).status_code == 200
        change = client.post(
            "/api/change_password",
            json={
                "old_password": PASSWORD,
                "new_password1": "another long passphrase",
                "new_password2": "another long passphrase",
            },
            headers={"Authorization": f"Token {full}"},
        )
        assert change.status_code == 403
        assert (
            client.post("/auth/login", json={"login": ANN, "password": PASSWORD}).status_code == 200
        )

    def test_no_token_opens_the_pages(self, client: httpx.Client) -> None:
        full = make_token(client, session_of(client), "full")["token"]
        page = client.get("/account/profile", headers={"Cookie": f"portcullis-session={full}"})
        assert page.status_code in (302, 303)
        assert page.headers["location"].endswith("/signin")


class TestRevokedAndExpired:
    def test_revoked_is_refused_at_once_everywhere(self, client: httpx.Client) -> None:
        session = session_of(client)
        made = make_token(client, session, "full")
        assert client.get("/auth/verify", headers=as_token(made["token"])).status_code == 200
        revoked = client.delete(f"/auth/tokens/{made['id']}", headers={"X-Session-Token": session})
        assert revoked.status_code == 200
        assert client.get("/auth/verify", headers=as_token(made["token"])).status_code == 401
        assert (
            client.get("/auth/profile", headers={"X-Session-Token": made["token"]}).status_code
            == 401
        )
        again = client.delete(f"/auth/tokens/{made['id']}", headers={"X-Session-Token": session})
        assert again.status_code == 404

    def test_expired_is_refused(self, client: httpx.Client, settings: Settings) -> None:
        made = make_token(client, session_of(client))
        expire_token(settings, made["id"])
        assert client.get("/auth/verify", headers=as_token(made["token"])).status_code == 401

    def test_someone_elses_token_cannot_be_revoked(
        self, client: httpx.Client, settings: Settings
    ) -> None:
        made = make_token(client, session_of(client))
        add_account(settings, "bob@example.org")
        bob = login(client, "bob@example.org")
        answer = client.delete(f"/auth/tokens/{made['id']}", headers={"X-Session-Token": bob})
        assert answer.status_code == 404
        assert client.get("/auth/verify", headers=as_token(made["token"])).status_code == 200

    def test_last_use_is_shown(self, client: httpx.Client) -> None:
        session = session_of(client)
        made = make_token(client, session)
        client.get("/auth/verify", headers=as_token(made["token"]))
        listed = client.get("/auth/tokens", headers={"X-Session-Token": session}).json()
        assert listed[0]["lastUsed"] is not None


class TestResetAndDeactivation:
    def test_a_password_reset_ends_sessions_and_keeps_tokens(
        self, client: httpx.Client, server: RunningServer
    ) -> None:
        session = session_of(client)
        made = make_token(client, session)
        target = {"instanceKey": "default", "path": "password/reset"}
        client.post("/auth/password/reset", json={"email": ANN, **target})
        key = server.wait_for_mail(ANN, "Password Reset").key
        changed = client.post(
            "/auth/password/change", json={"activationKey": key, "password": "a new passphrase!"}
        )
        assert changed.status_code == 200, changed.text
        assert client.get("/auth/profile", headers={"X-Session-Token": session}).status_code == 401
        assert client.get("/auth/verify", headers=as_token(made["token"])).status_code == 200

    def test_deactivation_revokes_every_token(
        self, client: httpx.Client, settings: Settings
    ) -> None:
        made = make_token(client, session_of(client))
        run_core(settings, lambda s: s.admin.deactivate(ANN))
        assert client.get("/auth/verify", headers=as_token(made["token"])).status_code == 401
        account = run_core(settings, lambda s: s.admin.find(ANN))
        assert run_core(settings, lambda s: s.tokens.page(account.id)).items == []
