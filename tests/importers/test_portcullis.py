"""`portcullis export` and `portcullis import portcullis`: moving on again, and an import
killed halfway finished by running it again."""

from __future__ import annotations

import asyncio
import hashlib
import signal
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

import asyncpg
import orjson

from portcullis.config import Settings
from portcullis.storage.database import DatabaseUrl
from tests.conftest import MakeServer, SettingsFactory
from tests.importers.sources import BIOSTUDIES_SCHEMA, connect, insert, mariadb_database
from tests.importers.support import env_of, import_cli
from tests.processes import PORTCULLIS, run_cli
from tests.support import add_account, audit_rows, grant, login


def test_an_export_brings_accounts_folders_and_passwords_elsewhere(
    settings: Settings, settings_for: SettingsFactory, tmp_path: Path, make_server: MakeServer
) -> None:
    add_account(settings, "kept@example.org", username="kept", full_name="Kept User")
    grant(settings, "kept@example.org", "S-BSST9")
    with make_server(settings).client() as client:
        before = client.get("/auth/profile", headers={"X-Session-Token": login(client, "kept")})
    plain = run_cli(env_of(settings), "export")
    assert plain.returncode == 0, plain.stderr
    record = orjson.loads(plain.stdout.splitlines()[0])
    assert "password_hash" not in record and "secret" not in record
    exported = run_cli(env_of(settings), "export", "--with-hashes")
    dump = tmp_path / "accounts.jsonl"
    dump.write_text(exported.stdout)

    elsewhere = settings_for(
        database_url=f"sqlite:///{tmp_path / 'new' / 'portcullis.db'}", data_dir=tmp_path / "new"
    )
    done = import_cli(elsewhere, "portcullis", str(dump))
    assert "imported 1 account(s), 1 tag permission(s)" in done.stdout, done.stderr
    with make_server(elsewhere).client() as client:
        after = client.get("/auth/profile", headers={"X-Session-Token": login(client, "kept")})
    for field in ("secret", "allow", "fullname", "username"):
        assert after.json()[field] == before.json()[field]


def many_users(count: int) -> list[dict[str, object]]:
    digest = hashlib.sha1(b"same for all").digest()
    return [
        {
            "id": n,
            "email": f"user{n}@example.org",
            "fullName": f"User {n}",
            "passwordDigest": digest,
            "secret": str(uuid.uuid4()),
            "superuser": 0,
            "active": 1,
            "keyTime": 1_700_000_000_000,
            "notificationsEnabled": 0,
        }
        for n in range(1, count + 1)
    ]


def imported_count(settings: Settings) -> int:
    database = DatabaseUrl.parse(settings.resolved_database_url)
    if database.is_sqlite:
        if not database.sqlite_path.exists():
            return 0
        with sqlite3.connect(database.sqlite_path) as connection:
            return int(connection.execute("SELECT count(*) FROM accounts").fetchone()[0])

    async def count() -> int:
        connection = await asyncpg.connect(database.asyncpg_dsn)
        try:
            return int(await connection.fetchval("SELECT count(*) FROM accounts"))
        finally:
            await connection.close()

    return asyncio.run(count())


def test_an_import_killed_halfway_finishes_when_run_again(settings: Settings) -> None:
    total = 20_000
    with mariadb_database(BIOSTUDIES_SCHEMA) as url:
        with connect(url) as connection:
            insert(connection, "User", many_users(total))
        command = [PORTCULLIS, "import", "biostudies", url, "--batch-size", "200"]
        running = subprocess.Popen(command, env=env_of(settings), stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while running.poll() is None and time.monotonic() < deadline:
            if imported_count(settings):
                break
            time.sleep(0.02)
        running.send_signal(signal.SIGKILL)
        running.wait()
        halfway = imported_count(settings)
        assert 0 < halfway < total, "the import ended before it could be killed"
        again = import_cli(settings, "biostudies", url)
    assert again.returncode == 0, again.stderr
    assert f"already here from an earlier run: {halfway}" in again.stdout
    assert f"imported {total - halfway} account(s)" in again.stdout
    assert imported_count(settings) == total
    imported = [row for row in audit_rows(settings) if row["kind"] == "imported"]
    assert len(imported) == total
    assert {row["detail"] for row in imported} == {f"biostudies:{n}" for n in range(1, total + 1)}
