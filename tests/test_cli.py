"""The ``portcullis`` command as an operator meets it, through its real process: its help,
its words for a mistake, where it keeps data, and the account commands."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import _postgres_unreachable as postgres_unreachable
from tests.processes import PORTCULLIS, ServeProcess, portcullis_env, run_cli
from tests.support import PASSWORD, Mail, read_eml


def wait_for_mail(outbox: Path, timeout: float = 20) -> Mail:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(outbox.glob("*.eml")) if outbox.exists() else []
        if found:
            return read_eml(found[0])
        time.sleep(0.1)
    raise AssertionError(f"no mail in {outbox}")


COMMANDS = [
    [],
    ["serve"],
    ["migrate"],
    ["purge"],
    ["audit"],
    ["user"],
    ["export"],
    *(["token", name] for name in ("create", "list", "revoke")),
    *(["service", name] for name in ("add", "list")),
    ["import"],
    *(["import", source] for source in ("biostudies", "thr", "thr-perl", "portcullis")),
    *(
        ["user", name]
        for name in (
            "add",
            "list",
            "set-password",
            "rename",
            "grant",
            "revoke",
            "deactivate",
            "reactivate",
            "delete",
            "promote",
            "demote",
            "set-email",
            "sessions",
            "logout-all",
        )
    ),
]


def bare_env(**settings: str) -> dict[str, str]:
    """The environment without any PORTCULLIS_ setting but those given (and fast hashes)."""
    env = portcullis_env(Path("unused"), **settings)
    del env["PORTCULLIS_DATA_DIR"]
    return env


def run_in(
    folder: Path, env: dict[str, str], *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PORTCULLIS, *args],
        input=stdin,
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class TestHelp:
    @pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "portcullis")
    def test_reads_as_plain_text(self, command: list[str]) -> None:
        answer = run_cli(bare_env(), *command, "--help")
        assert answer.returncode == 0, answer.stderr
        shown = answer.stdout
        assert shown.startswith("Usage: portcullis")
        for noise in ("<bool>", "<str>", "{", "--no-", "[bold", "\x1b[", "╭", "│"):
            assert noise not in shown, (noise, shown)
        assert "Traceback" not in answer.stderr

    def test_top_level_help_names_the_settings_and_the_data_directory(self) -> None:
        shown = " ".join(run_cli(bare_env(), "--help").stdout.split())
        assert "PORTCULLIS_* environment variables and a .env file" in shown
        assert "PORTCULLIS_DATA_DIR, ./var by default" in shown

    def test_arguments_are_named_as_the_readme_writes_them(self) -> None:
        shown = run_cli(bare_env(), "user", "set-email", "--help").stdout
        assert "Usage: portcullis user set-email [OPTIONS] EMAIL NEW_EMAIL" in shown
        assert "--verified" in shown

    def test_version(self) -> None:
        answer = run_cli(bare_env(), "--version")
        assert answer.returncode == 0
        assert answer.stdout.startswith("portcullis ")
        assert answer.stdout.split()[1][0].isdigit()


class TestDataDirectory:
    def test_a_command_run_elsewhere_makes_no_second_database(self, tmp_path: Path) -> None:
        home, elsewhere = tmp_path / "service", tmp_path / "elsewhere"
        home.mkdir()
        elsewhere.mkdir()
        assert run_in(home, bare_env(), "migrate").returncode == 0
        made = run_in(
            home, bare_env(), "user", "add", "ann@example.org", "--password-stdin", stdin=PASSWORD
        )
        assert made.returncode == 0, made.stderr
        # From where the service runs, the account is there.
        assert "ann@example.org" in run_in(home, bare_env(), "user", "list").stdout
        # From elsewhere: refused in one line naming the folder, and nothing is made.
        refused = run_in(elsewhere, bare_env(), "user", "list")
        assert refused.returncode == 1
        assert refused.stderr == (
            f"error: no data directory at {elsewhere / 'var'}: run this where the service "
            "runs (its data is in ./var there), or set PORTCULLIS_DATA_DIR\n"
        )
        assert list(elsewhere.iterdir()) == []
        # Named, the folder is used from anywhere.
        env = {**bare_env(), "PORTCULLIS_DATA_DIR": str(home / "var")}
        assert "ann@example.org" in run_in(elsewhere, env, "user", "list").stdout


@pytest.mark.perl
class TestMistakesInPlainWords:
    @pytest.mark.parametrize(
        ("setting", "value", "said"),
        [
            ("instances", "{x", "PORTCULLIS_INSTANCES: not valid JSON (line 1, column 2)"),
            (
                "database_url",
                "mysql://root@127.0.0.1/test",
                "PORTCULLIS_DATABASE_URL: mysql is not supported; use sqlite:/// or postgresql://",
            ),
            (
                "rate_limit_login",
                "lots",
                'PORTCULLIS_RATE_LIMIT_LOGIN: "lots" is not a rate such as 30/minute',
            ),
            (
                "session_lifetime_seconds",
                "abc",
                'PORTCULLIS_SESSION_LIFETIME_SECONDS: "abc" is not a whole number',
            ),
            (
                "require_activation",
                "maybe",
                'PORTCULLIS_REQUIRE_ACTIVATION: "maybe" is not true or false',
            ),
            ("argon2_parallelism", "0", "PORTCULLIS_ARGON2_PARALLELISM: must be at least 1"),
        ],
    )
    def test_a_setting_is_named_with_what_is_wrong(
        self, tmp_path: Path, setting: str, value: str, said: str
    ) -> None:
        env = portcullis_env(tmp_path / "data", **{setting: value})
        for command in (["user", "list"], ["serve", "--port", "1"]):
            answer = run_cli(env, *command)
            assert answer.returncode == 1
            assert answer.stderr == f"error: {said}\n", command

    def test_a_secret_is_never_repeated_back(self, tmp_path: Path) -> None:
        env = portcullis_env(tmp_path / "data", database_url="mysql://root:hunter2@127.0.0.1/test")
        answer = run_cli(env, "user", "list")
        assert answer.returncode == 1
        assert "hunter2" not in answer.stderr

    def test_an_unreachable_database_is_named_by_its_address(self, tmp_path: Path) -> None:
        env = portcullis_env(
            tmp_path / "data", database_url="postgresql://postgres:hunter2@127.0.0.1:5999/x"
        )
        for command in (["user", "list"], ["migrate"], ["serve", "--port", "1"]):
            answer = run_cli(env, *command)
            assert answer.returncode == 1
            assert answer.stderr == (
                "error: the database at 127.0.0.1:5999 cannot be reached (connection refused)\n"
            ), command

    def test_a_missing_database_is_named(self, tmp_path: Path) -> None:
        reason = postgres_unreachable()
        if reason:
            pytest.skip(reason)
        url = "postgresql://postgres@127.0.0.1:5432/portcullis_no_such_database"
        answer = run_cli(portcullis_env(tmp_path / "data", database_url=url), "user", "list")
        assert answer.returncode == 1
        assert answer.stderr == (
            'error: the database at 127.0.0.1:5432: database "portcullis_no_such_database" '
            "does not exist\n"
        )


class TestPasswords:
    def test_no_terminal_and_no_password_stdin_is_one_line(self, tmp_path: Path) -> None:
        answer = run_cli(portcullis_env(tmp_path / "data"), "user", "add", "a@example.org")
        assert answer.returncode == 1
        assert answer.stderr == (
            "error: no terminal to ask for the password: pass --password-stdin and pipe it\n"
        )

    def test_an_empty_standard_input_is_said_so(self, tmp_path: Path) -> None:
        env = portcullis_env(tmp_path / "data")
        answer = run_cli(env, "user", "add", "a@example.org", "--password-stdin")
        assert answer.returncode == 1
        assert answer.stderr == "error: no password on standard input\n"

    def test_every_failed_rule_has_a_line(self, tmp_path: Path) -> None:
        env = portcullis_env(tmp_path / "data")
        answer = run_cli(env, "user", "add", "a@example.org", "--password-stdin", stdin="1234567\n")
        assert answer.returncode == 1
        lines = answer.stderr.splitlines()
        assert len(lines) >= 2, answer.stderr
        assert all(line.startswith("error: ") for line in lines)
        assert any("at least 8 characters" in line for line in lines)


class TestAccountCommands:
    @pytest.fixture
    def env(self, tmp_path: Path, database_url: str) -> dict[str, str]:
        env = portcullis_env(tmp_path / "data", database_url=database_url)
        for who in ("ann@example.org", "bob@example.org"):
            made = run_cli(env, "user", "add", who, "--password-stdin", stdin=PASSWORD)
            assert made.returncode == 0, made.stderr
        return env

    def listed(self, env: dict[str, str]) -> dict[str, dict[str, object]]:
        answer = run_cli(env, "user", "list", "--json")
        assert answer.returncode == 0, answer.stderr
        records = [json.loads(line) for line in answer.stdout.splitlines()]
        return {str(r["email"]): r for r in records}

    def test_list_has_a_header_row_and_json(self, env: dict[str, str]) -> None:
        table = run_cli(env, "user", "list").stdout.splitlines()
        assert table[0] == "EMAIL\tUSERNAME\tNAME\tSTATUS\tSUPERUSER\tVERIFIED\tTAGS"
        assert table[1].split("\t")[0] == "ann@example.org"
        ann = self.listed(env)["ann@example.org"]
        assert ann == {
            "email": "ann@example.org",
            "username": None,
            "name": "ann",
            "status": "active",
            "superuser": False,
            "verified": True,
            "tags": [],
        }

    def test_deactivate_then_reactivate(self, env: dict[str, str]) -> None:
        assert run_cli(env, "user", "deactivate", "ann@example.org").returncode == 0
        assert self.listed(env)["ann@example.org"]["status"] == "disabled"
        again = run_cli(env, "user", "reactivate", "ann@example.org")
        assert again.returncode == 0, again.stderr
        assert self.listed(env)["ann@example.org"]["status"] == "active"

    def test_promote_and_demote(self, env: dict[str, str]) -> None:
        assert run_cli(env, "user", "promote", "bob@example.org").returncode == 0
        assert self.listed(env)["bob@example.org"]["superuser"] is True
        twice = run_cli(env, "user", "promote", "bob@example.org")
        assert "already; nothing changed" in twice.stdout
        assert run_cli(env, "user", "demote", "bob@example.org").returncode == 0
        assert self.listed(env)["bob@example.org"]["superuser"] is False

    def test_set_email_verified_at_once(self, env: dict[str, str]) -> None:
        moved = run_cli(env, "user", "set-email", "ann@example.org", "Ann@New.org", "--verified")
        assert moved.returncode == 0, moved.stderr
        assert "ann@new.org" in self.listed(env)
        taken = run_cli(env, "user", "set-email", "ann@new.org", "bob@example.org", "--verified")
        assert taken.returncode == 1
        assert taken.stderr == "error: The email is already taken\n"

    def test_set_email_by_mail_waits_for_the_link(
        self, env: dict[str, str], tmp_path: Path
    ) -> None:
        asked = run_cli(env, "user", "set-email", "ann@example.org", "ann@new.org")
        assert asked.returncode == 0, asked.stderr
        assert "a link went to ann@new.org" in asked.stdout
        assert "ann@example.org" in self.listed(env)  # unchanged until the link is opened
        # The command queued the mail; the running service sends it.
        server = ServeProcess(env)
        try:
            mail = wait_for_mail(tmp_path / "data" / "outbox")
        finally:
            server.stop()
        assert mail.to == "ann@new.org"
        assert mail.subject == "Verify your new email"
        assert mail.link.startswith("http://127.0.0.1:8000/account/activate/")  # PUBLIC_URL's

    def test_sessions_has_a_header_row_and_json(self, env: dict[str, str]) -> None:
        table = run_cli(env, "user", "sessions", "ann@example.org")
        assert table.returncode == 0, table.stderr
        assert table.stdout == "ID\tCREATED\tLAST_ACTIVE\tADDRESS\tUSER_AGENT\n"
        assert run_cli(env, "user", "sessions", "ann@example.org", "--json").stdout == ""

    def test_delete_ends_the_account_and_keeps_its_audit(self, env: dict[str, str]) -> None:
        refused = run_cli(env, "user", "delete", "bob@example.org")  # no terminal, no --yes
        assert refused.returncode == 1
        assert refused.stderr == "error: no terminal to confirm the deletion: pass --yes\n"
        assert "bob@example.org" in self.listed(env)
        deleted = run_cli(env, "user", "delete", "bob@example.org", "--yes")
        assert deleted.returncode == 0, deleted.stderr
        assert "bob@example.org" not in self.listed(env)
        # The account is gone, its events are not: the whole trail still names it.
        trail = [json.loads(line) for line in run_cli(env, "audit", "--json").stdout.splitlines()]
        kinds = {event["kind"] for event in trail if event["subject"] == "bob@example.org"}
        assert {"account_deleted", "admin_action"} <= kinds
        again = run_cli(env, "user", "delete", "bob@example.org", "--yes")
        assert again.returncode == 1

    def test_unknown_account_is_one_line(self, env: dict[str, str]) -> None:
        for command in ("reactivate", "promote", "demote"):
            answer = run_cli(env, "user", command, "nobody@example.org")
            assert answer.returncode == 1
            assert answer.stderr == (
                "error: No account has the e-mail address 'nobody@example.org'.\n"
            ), command
