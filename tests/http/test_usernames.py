"""One rule for usernames: found, unique and counted under one folded form (NFKC, casefold).

Through real HTTP in both dialects and through the CLI, on SQLite and PostgreSQL; the
register page's answer to a taken name is in tests/web/test_register.py.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from portcullis.config import Settings
from tests.conftest import MakeServer, SettingsFactory
from tests.processes import portcullis_env, run_cli
from tests.support import PASSWORD, RunningServer, add_account, wrong_logins

FULLWIDTH_ALICE = "\uff21\uff4c\uff49\uff43\uff45"  # "Alice" in fullwidth letters
SPELLINGS = ["ALICE", "alice", FULLWIDTH_ALICE, " aLiCe "]  # registered as "Alice"


@pytest.fixture
def alice(settings: Settings) -> int:
    return add_account(settings, "alice@example.org", username="Alice").id


def basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


class TestSignInBySpelling:
    @pytest.mark.parametrize("spelling", SPELLINGS)
    def test_biostudies_finds_the_one_account(
        self, server: RunningServer, alice: int, spelling: str
    ) -> None:
        with server.client() as client:
            answer = client.post("/auth/login", json={"login": spelling, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        assert answer.json()["email"] == "alice@example.org"
        assert answer.json()["username"] == "Alice"  # displayed as its owner spelled it

    @pytest.mark.parametrize("spelling", ["ALICE", FULLWIDTH_ALICE])
    def test_trackhub_basic_and_form_find_the_one_account(
        self, server: RunningServer, alice: int, spelling: str
    ) -> None:
        with server.client() as client:
            by_basic = client.get("/api/login", headers=basic(spelling, PASSWORD))
            by_form = client.post("/api/login", data={"username": spelling, "password": PASSWORD})
        assert by_basic.status_code == 200, by_basic.text
        assert by_form.status_code == 200, by_form.text
        assert by_basic.json()["email"] == by_form.json()["email"] == "alice@example.org"

    def test_trackhub_legacy_user_header_matches_any_spelling(
        self, server: RunningServer, alice: int
    ) -> None:
        with server.client() as client:
            token = client.post(
                "/api/login", data={"username": "alice", "password": PASSWORD}
            ).json()["auth_token"]
            answer = client.get("/api/logout", headers={"User": "ALICE", "Auth-Token": token})
        assert answer.status_code == 200, answer.text


class TestLockoutTellsNothing:
    def test_locking_one_spelling_holds_every_spelling(
        self, settings_for: SettingsFactory, make_server: MakeServer
    ) -> None:
        # Before: ALICE was an unknown name with a counter of its own, so after five
        # failures "Alice" answered 200/401 (it exists) where a made-up name answered 429.
        settings = settings_for(
            login_lockout_threshold=3,
            login_lockout_base_seconds=60,
            login_lockout_max_seconds=60,
            rate_limit_login="1000/minute",
        )
        add_account(settings, "alice@example.org", username="Alice")
        server = make_server(settings)
        with server.client() as client:
            assert [a.status_code for a in wrong_logins(client, "ALICE", 3)] == [401] * 3
            for spelling in ("Alice", FULLWIDTH_ALICE, "alice@example.org"):
                held = client.post("/auth/login", json={"login": spelling, "password": PASSWORD})
                assert held.status_code == 429, (spelling, held.text)


class TestCliTakenName:
    def test_user_add_says_a_folded_name_is_taken(self, tmp_path: Path, database_url: str) -> None:
        env = portcullis_env(tmp_path / "data", database_url=database_url)
        first = run_cli(
            env,
            "user",
            "add",
            "a@example.org",
            "--username",
            "Alice",
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )
        assert first.returncode == 0, first.stderr
        clash = run_cli(
            env,
            "user",
            "add",
            "b@example.org",
            "--username",
            "aLICE",
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )
        assert clash.returncode == 1
        assert "username is already taken" in clash.stderr
        assert "Traceback" not in clash.stderr

    def test_user_rename_gives_another_name_unless_it_folds_to_a_taken_one(
        self, tmp_path: Path, database_url: str
    ) -> None:
        env = portcullis_env(tmp_path / "data", database_url=database_url)
        for email, username in (("a@example.org", "Alice"), ("b@example.org", "bob")):
            made = run_cli(
                env,
                "user",
                "add",
                email,
                "--username",
                username,
                "--password-stdin",
                stdin=PASSWORD + "\n",
            )
            assert made.returncode == 0, made.stderr
        taken = run_cli(env, "user", "rename", "b@example.org", "ALICE")
        assert taken.returncode == 1
        assert "username is already taken" in taken.stderr
        renamed = run_cli(env, "user", "rename", "b@example.org", "Robert")
        assert renamed.returncode == 0, renamed.stderr
        listed = run_cli(env, "user", "list").stdout
        assert "b@example.org\tRobert\t" in listed
        again = run_cli(
            env,
            "user",
            "add",
            "c@example.org",
            "--username",
            "ROBERT",
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )
        assert again.returncode == 1  # the key moved with the name
