"""The real command in real processes: restarts, the database files, the CLI."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from portcullis.core.passwords import HASHING_THREAD_NAME
from tests.processes import (
    PORTCULLIS,
    ServeProcess,
    portcullis_env,
    run_cli,
    run_in_terminal,
    workers_of,
)
from tests.support import PASSWORD

# The seed document's Perl client, verbatim; checked against the seed when it is beside us.
PERL_CLIENT = Path(__file__).parent / "fixtures" / "trackhub_login.pl"
SEED = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "000_45fbafa71d708f5e.txt"


def test_session_survives_a_restart_and_nothing_secret_is_stored_in_clear(
    tmp_path: Path, database_url: str
) -> None:
    env = portcullis_env(tmp_path / "data", database_url=database_url)
    made = run_cli(
        env, "user", "add", "keeper@example.org", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert made.returncode == 0, made.stderr
    server = ServeProcess(env)
    try:
        token = httpx.post(
            f"{server.url}/auth/login", json={"login": "keeper@example.org", "password": PASSWORD}
        ).json()["sessid"]
    finally:
        server.stop()
    server = ServeProcess(env)
    try:
        profile = httpx.get(f"{server.url}/auth/profile", headers={"X-Session-Token": token})
    finally:
        server.stop()
    assert profile.status_code == 200
    assert profile.json()["email"] == "keeper@example.org"

    if database_url.startswith("sqlite"):
        stored = b"".join(p.read_bytes() for p in (tmp_path / "data").rglob("portcullis.db*"))
        assert stored, "the database files were not found"
        assert token.encode() not in stored
        assert PASSWORD.encode() not in stored
        assert b"keeper@example.org" in stored  # the check reads the real files


def test_schema_is_made_by_serve_on_sqlite(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    env = portcullis_env(fresh)
    server = ServeProcess(env)
    try:
        answer = httpx.post(f"{server.url}/auth/login", json={"login": "a@b.org", "password": "x"})
        registered = httpx.post(
            f"{server.url}/auth/register",
            json={
                "name": "Private Person",
                "email": "private@example.org",
                "password": PASSWORD,
                "instanceKey": "default",
                "path": "activate",
            },
        )
        assert registered.status_code == 201
        deadline = time.monotonic() + 10
        while not list((fresh / "outbox").glob("*.eml")) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        server.stop()
    assert answer.status_code == 401
    assert (fresh / "portcullis.db").exists()
    # Password hashes, the server secret and mailed keys: none readable by other users.
    [mail] = (fresh / "outbox").glob("*.eml")
    for private in (fresh / "outbox", fresh / "secret_key", fresh / "portcullis.db", mail):
        assert private.stat().st_mode & 0o077 == 0, private


def test_a_data_folder_the_service_makes_is_private(tmp_path: Path) -> None:
    made = tmp_path / "made" / "here"
    migrated = run_cli(portcullis_env(made), "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert made.stat().st_mode & 0o777 == 0o700
    assert (made / "portcullis.db").stat().st_mode & 0o777 == 0o600


def _hash_service_socket(worker: int) -> Path:
    """Where the worker sends its hashes: the socket serve told it of."""
    environ = Path(f"/proc/{worker}/environ").read_bytes().split(b"\0")
    (setting,) = [item for item in environ if item.startswith(b"PORTCULLIS_HASH_SERVICE_")]
    return Path(setting.split(b"=", 1)[1].decode())


def _thread_names(pid: int) -> list[str]:
    names = []
    for comm in Path(f"/proc/{pid}/task").glob("*/comm"):
        with contextlib.suppress(OSError):
            names.append(comm.read_text().strip())
    return names


@pytest.mark.skipif(sys.platform != "linux", reason="reads processes and threads from /proc")
def test_several_workers_hash_in_one_queue_in_the_supervisor(tmp_path: Path) -> None:
    # The lockout counts each check before its hash, so more than the threshold of one
    # account's checks in flight at once are refused, right passwords too: 8 at once need
    # a threshold above 8 (tests/production/test_lockout_races.py tests the lockout).
    env = portcullis_env(tmp_path / "data", login_lockout_threshold="20")
    run_cli(env, "user", "add", "queue@example.org", "--password-stdin", stdin=PASSWORD + "\n")
    server = ServeProcess(env, "--workers", "2")
    try:
        workers = workers_of(server, 2)
        assert len(workers) == 2
        socket_path = _hash_service_socket(workers[0])
        assert stat.S_IMODE(socket_path.stat().st_mode) == 0o600
        assert stat.S_IMODE(socket_path.parent.stat().st_mode) == 0o700

        def log_in() -> int:
            with httpx.Client(base_url=server.url) as client:  # a connection of its own
                body = {"login": "queue@example.org", "password": PASSWORD}
                return client.post("/auth/login", json=body).status_code

        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(lambda _: log_in(), range(16))) == [200] * 16
        # The hashes ran in the supervisor: its threads hash, the workers have none.
        assert HASHING_THREAD_NAME in _thread_names(server.process.pid)
        assert all(HASHING_THREAD_NAME not in _thread_names(pid) for pid in workers)
    finally:
        server.stop()
    assert not socket_path.parent.exists()


@pytest.mark.skipif(sys.platform != "linux", reason="reads processes from /proc")
def test_workers_left_without_their_hash_service_are_not_ready(tmp_path: Path) -> None:
    env = portcullis_env(tmp_path / "data")
    run_cli(env, "user", "add", "orphan@example.org", "--password-stdin", stdin=PASSWORD)
    server = ServeProcess(env, "--workers", "2")
    workers = workers_of(server, 2)
    socket_folder = _hash_service_socket(workers[0]).parent
    body = {"login": "orphan@example.org", "password": PASSWORD}
    try:
        with httpx.Client(base_url=server.url) as client:
            assert client.get("/readyz").json()["hashing"] == "ok"
            token = client.post("/auth/login", json=body).json()["sessid"]
        # The supervisor, which runs the hashes, dies as the OOM killer would end it.
        server.process.kill()
        server.process.wait()
        for _ in range(4):  # each new connection may land on either orphaned worker
            with httpx.Client(base_url=server.url) as client:
                ready = client.get("/readyz")
                assert ready.status_code == 503
                assert ready.json()["hashing"] == "unavailable: Unavailable"
                assert ready.json()["database"] == "ok"
                signin = client.post("/auth/login", json=body)
                assert signin.status_code == 503
                assert signin.json()["status"] == "FAIL"
                # Token checks need no hashing: the sessions already open still work.
                headers = {"X-Session-Token": token}
                assert client.get("/auth/profile", headers=headers).status_code == 200
    finally:
        server.stop()
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(socket_folder, ignore_errors=True)  # a killed serve leaves it


def test_one_worker_hashes_itself_whatever_the_environment_says(tmp_path: Path) -> None:
    env = portcullis_env(tmp_path / "data")
    env["PORTCULLIS_HASH_SERVICE_SOCKET"] = str(tmp_path / "left-by-an-earlier-shell")
    added = run_cli(env, "user", "add", "alone@example.org", "--password-stdin", stdin=PASSWORD)
    assert added.returncode == 0, added.stderr
    server = ServeProcess(env)
    try:
        body = {"login": "alone@example.org", "password": PASSWORD}
        assert httpx.post(f"{server.url}/auth/login", json=body).status_code == 200
    finally:
        server.stop()


def test_serve_refuses_a_postgres_schema_that_is_behind(
    tmp_path: Path, empty_database_url: str
) -> None:
    if empty_database_url.startswith("sqlite"):
        pytest.skip("on SQLite serve migrates by itself (test_schema_is_made_by_serve_on_sqlite)")
    env = portcullis_env(tmp_path / "data", database_url=empty_database_url)
    refused = run_cli(env, "serve", "--port", "1")
    assert refused.returncode != 0
    assert "portcullis migrate" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert run_cli(env, "migrate").returncode == 0
    server = ServeProcess(env)
    try:
        assert httpx.get(f"{server.url}/readyz").status_code == 200
    finally:
        server.stop()


class TestUserCommands:
    def test_add_list_grant_revoke_set_password_deactivate(
        self, tmp_path: Path, database_url: str
    ) -> None:
        env = portcullis_env(tmp_path / "data", database_url=database_url)
        add = run_cli(
            env,
            "user",
            "add",
            "Ann@Example.org",
            "--username",
            "ann",
            "--name",
            "Ann Example",
            "--superuser",
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )
        assert add.returncode == 0, add.stderr
        assert run_cli(env, "user", "grant", "ann@example.org", "S-BSST1").returncode == 0
        listed = run_cli(env, "user", "list").stdout
        assert "ann@example.org\tann\tAnn Example\tactive\tyes\tyes\tS-BSST1" in listed
        assert run_cli(env, "user", "revoke", "ann@example.org", "S-BSST1").returncode == 0
        assert "S-BSST1" not in run_cli(env, "user", "list").stdout

        server = ServeProcess(env)
        try:
            token = httpx.post(
                f"{server.url}/auth/login", json={"login": "ann", "password": PASSWORD}
            ).json()["sessid"]
            changed = run_cli(
                env,
                "user",
                "set-password",
                "ann@example.org",
                "--password-stdin",
                stdin="another good passphrase\n",
            )
            assert changed.returncode == 0, changed.stderr
            assert (
                httpx.get(
                    f"{server.url}/auth/profile", headers={"X-Session-Token": token}
                ).status_code
                == 401
            )
            assert (
                httpx.post(
                    f"{server.url}/auth/login",
                    json={"login": "ann", "password": "another good passphrase"},
                ).status_code
                == 200
            )
            assert run_cli(env, "user", "deactivate", "ann@example.org").returncode == 0
            assert (
                httpx.post(
                    f"{server.url}/auth/login",
                    json={"login": "ann", "password": "another good passphrase"},
                ).status_code
                == 401
            )
        finally:
            server.stop()
        assert "disabled" in run_cli(env, "user", "list").stdout

    def test_errors_are_plain_messages(self, tmp_path: Path, database_url: str) -> None:
        env = portcullis_env(tmp_path / "data", database_url=database_url)
        weak = run_cli(
            env, "user", "add", "weak@example.org", "--password-stdin", stdin="password\n"
        )
        assert weak.returncode == 1
        assert "too common" in weak.stderr
        assert "Traceback" not in weak.stderr
        missing = run_cli(env, "user", "grant", "nobody@example.org", "tag")
        assert missing.returncode == 1
        assert "nobody@example.org" in missing.stderr
        run_cli(env, "user", "add", "dup@example.org", "--password-stdin", stdin=PASSWORD + "\n")
        dup = run_cli(
            env, "user", "add", "DUP@example.org", "--password-stdin", stdin=PASSWORD + "\n"
        )
        assert dup.returncode == 1
        assert "already taken" in dup.stderr

    def test_passwords_and_tags_that_cannot_be_taken_are_plain_errors(self, tmp_path: Path) -> None:
        env = portcullis_env(tmp_path / "data")
        not_utf8 = subprocess.run(
            [PORTCULLIS, "user", "add", "bytes@example.org", "--password-stdin"],
            input=b"\xff\xfe zebra quantum flux 9\n",
            env=env,
            capture_output=True,
            check=False,
        )
        assert not_utf8.returncode == 1
        assert b"not UTF-8" in not_utf8.stderr
        assert b"Traceback" not in not_utf8.stderr
        nothing = run_cli(env, "user", "add", "silent@example.org")  # no terminal, no input
        assert nothing.returncode == 1
        assert nothing.stderr.count("\n") == 1
        assert "--password-stdin" in nothing.stderr
        assert "GetPassWarning" not in nothing.stderr
        made = run_cli(
            env, "user", "add", "ann@example.org", "--password-stdin", stdin=PASSWORD + "\n"
        )
        assert made.returncode == 0, made.stderr
        for tag in ("a,b", "x\ny", "t" * 129, "Public", "ann@example.org"):
            refused = run_cli(env, "user", "grant", "ann@example.org", tag)
            assert refused.returncode == 1, tag
            assert refused.stderr.startswith("error: "), tag
        not_held = run_cli(env, "user", "revoke", "ann@example.org", "never-granted")
        assert not_held.returncode == 1
        assert "no tag 'never-granted'" in not_held.stderr
        assert run_cli(env, "user", "list").stdout.endswith("\t-\n")  # still no tags at all

    def test_password_is_asked_at_a_terminal_without_echo(
        self, tmp_path: Path, database_url: str
    ) -> None:
        env = portcullis_env(tmp_path / "data", database_url=database_url)
        code, shown = run_in_terminal(
            env, "user", "add", "prompt@example.org", typed=[PASSWORD, PASSWORD]
        )
        assert code == 0, shown
        assert "Password:" in shown and "Again:" in shown
        assert PASSWORD not in shown  # not echoed
        assert "created prompt@example.org" in shown


@pytest.mark.perl
def test_the_seed_perl_client_logs_in_unchanged(tmp_path: Path, database_url: str) -> None:
    perl = shutil.which("perl")
    check = (
        subprocess.run(
            [perl or "perl", "-MLWP::UserAgent", "-MJSON", "-MHTTP::Request::Common", "-e", "1"],
            capture_output=True,
            check=False,
        )
        if perl
        else None
    )
    if check is None or check.returncode != 0:
        pytest.skip(
            "Perl with LWP::UserAgent and JSON is not installed (libwww-perl, libjson-perl)"
        )
    script = PERL_CLIENT.read_text()
    script = script.replace("https://trackhubregistry.org", "{URL}")
    assert "'username' => 'exampleuser', 'password' => 'examplepass'" in script

    env = portcullis_env(tmp_path / "data", database_url=database_url)
    made = run_cli(
        env,
        "user",
        "add",
        "user@email.com",
        "--username",
        "exampleuser",
        "--password-stdin",
        stdin="examplepass\n",
    )
    assert made.returncode == 0, made.stderr
    server = ServeProcess(env)
    try:
        path = tmp_path / "client.pl"
        path.write_text(script.replace("{URL}", server.url))
        ran = subprocess.run(
            ["perl", str(path)], capture_output=True, text=True, timeout=60, check=False
        )
    finally:
        server.stop()
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("Logged in [")
    token = ran.stdout.strip()[len("Logged in [") : -1]
    assert len(token) >= 43


def test_commands_started_together_migrate_once(tmp_path: Path, empty_database_url: str) -> None:
    # As when several instances start at once, each running `portcullis migrate` first.
    env = portcullis_env(tmp_path / "data", database_url=empty_database_url)
    commands = [
        subprocess.Popen(
            [PORTCULLIS, "migrate"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outcomes = [command.communicate(timeout=120) for command in commands]
    assert [command.returncode for command in commands] == [0] * 4, outcomes
    added = run_cli(
        env, "user", "add", "after@example.org", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert added.returncode == 0, added.stderr


def test_the_perl_client_fixture_is_the_seeds_own() -> None:
    if not SEED.exists():
        pytest.skip(f"the seed document is not beside this checkout ({SEED})")
    seed = SEED.read_text()
    assert seed[seed.index("use strict;") : seed.index("Status:")].strip() + "\n" == (
        PERL_CLIENT.read_text()
    )


class TestOperatorMistakes:
    """What an operator can get wrong is said in one line, and the command exits 1."""

    @pytest.mark.parametrize(
        "setting",
        [
            {"argon2_parallelism": "100000"},
            {"argon2_memory_kib": "999999999999"},
            {"argon2_memory_kib": "16", "argon2_parallelism": "4"},
            {"hash_concurrency": "100000"},
            {"rate_limit_login": "lots"},
            {"session_lifetime_seconds": "abc"},
            {"instances": "{bad"},
            {"instances": '{"x": "javascript:alert(1)"}'},
            {"public_url": "notaurl"},
            {"captcha_script_url": "http://example.org/api.js"},
            {"mail_from": "not an address"},
            {"mail_url": "ftp://example.org"},
            {"mail_url": "smtp://127.0.0.1:2525?starttls=bogus"},
            {"mail_url": "smtps://127.0.0.1:2525?cafile=/nonexistent/ca.pem"},
            {"redis_url": "http://example.org"},
            {"data_dir": "/proc/no-such-folder"},
            {"database_url": "garbage"},
            {"database_url": "postgresql://postgres@127.0.0.1:1/nowhere"},
        ],
    )
    def test_a_bad_setting_stops_serve_and_the_cli_in_one_line(
        self, tmp_path: Path, setting: dict[str, str]
    ) -> None:
        env = portcullis_env(tmp_path / "data")
        env.update({f"PORTCULLIS_{name.upper()}": value for name, value in setting.items()})
        for command in (["serve", "--port", "1"], ["user", "list"]):
            answer = run_cli(env, *command)
            assert answer.returncode == 1, (command, answer.stderr)
            assert answer.stderr.startswith("error: "), (command, answer.stderr)
            assert "Traceback" not in answer.stderr, (command, answer.stderr)
            assert len(answer.stderr.splitlines()) <= 3, (command, answer.stderr)

    def test_a_schema_newer_than_this_release_is_named_as_such(self, tmp_path: Path) -> None:
        # What an operator meets after rolling back to an older release.
        env = portcullis_env(tmp_path / "data")
        assert run_cli(env, "migrate").returncode == 0
        with sqlite3.connect(tmp_path / "data" / "portcullis.db") as database:
            database.execute("UPDATE alembic_version SET version_num = '0099'")
        for command in (["migrate"], ["serve", "--port", "1"], ["user", "list"]):
            answer = run_cli(env, *command)
            assert answer.returncode == 1, command
            assert "revision 0099, which this version of Portcullis does not know" in (
                answer.stderr
            ), command
            assert "Traceback" not in answer.stderr
