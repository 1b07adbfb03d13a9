"""`portcullis import thr` and `thr-perl`: the registry's users, from MariaDB, dumpdata JSON
and SQLite; their passwords and their scripts' tokens go on working."""

from __future__ import annotations

import base64
import hashlib
import secrets
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from portcullis.config import Settings
from tests.conftest import MakeServer, SettingsFactory
from tests.importers.sources import (
    THR_PERL_SCHEMA,
    THR_SCHEMA,
    connect,
    insert,
    mariadb_database,
)
from tests.importers.support import env_of, import_cli
from tests.processes import run_cli
from tests.support import RunningServer, stored_account

GOD_1M = "pbkdf2_sha256$1000000$abcdefghijklmnopqrstuv$N3iWXqLMrktE4t5DznuiD1flNvbRNjCIIaRBmSu0jVY="
PERL_SALT = "afs]dt42!"
TOKEN = secrets.token_hex(20)  # the registry's 40 hex characters


def django_hash(password: str, iterations: int = 260_000) -> str:
    salt = secrets.token_hex(6)
    derived = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(derived).decode()}"


def perl_hash(password: str, salt: str = PERL_SALT) -> str:
    digest = hashlib.sha256((salt + password).encode("latin-1")).digest()
    return base64.b64encode(digest).decode().rstrip("=")


def django_user(id: int, username: str, email: str, password: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": id,
        "password": password,
        "last_login": None,
        "is_superuser": fields.pop("is_superuser", 0),
        "username": username,
        "email": email,
        "is_staff": 0,
        "is_active": fields.pop("is_active", 1),
        "date_joined": "2019-05-01 10:00:00",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "affiliation": "EMBL-EBI",
        "check_interval": "weekly",
        "continuous_alert": 1,
        "is_account_activated": 1,
    }


DJANGO_USERS = [
    django_user(1, "god", "god@example.org", GOD_1M, is_superuser=1),
    django_user(2, "hubber", "hub@example.org", django_hash("hub pass")),
    # Carried over from the Perl registry: its hash as it was, inactive in Django.
    django_user(3, "carried", "perl@example.org", perl_hash("from perl"), is_active=0),
    django_user(10, "gone", "gone@example.org", django_hash("left"), is_active=0),
    django_user(4, "nopass", "nopass@example.org", "!" + "x" * 40),
    django_user(5, "Case", "Same@example.org", django_hash("a")),
    django_user(6, "case2", "same@example.org", django_hash("b")),
    django_user(7, "dup1", "dup@example.org", django_hash("c")),
    django_user(8, "dup2", "dup@example.org", django_hash("d")),
    django_user(9, "ada@work", "ada@example.org", django_hash("e")),
]
TOKENS = [{"key": TOKEN, "created": "2024-01-01 00:00:00", "user_id": 2}]


def thr_login(client: httpx.Client, username: str, password: str) -> httpx.Response:
    return client.post("/api/login", data={"username": username, "password": password})


def check_registry_users(server: RunningServer, settings: Settings) -> None:
    with server.client() as client:
        assert thr_login(client, "god", "god").status_code == 200
        assert thr_login(client, "hubber", "hub pass").status_code == 200
        assert thr_login(client, "carried", "from perl").status_code == 200
        # Through BioStudies' dialect, the same passwords (now argon2id).
        answer = client.post("/auth/login", json={"login": "god", "password": "god"})
        assert answer.status_code == 200 and answer.json()["superuser"] is True
        assert thr_login(client, "nopass", "!" + "x" * 40).status_code == 401
        assert thr_login(client, "gone", "left").status_code == 401  # inactive stays so
        profile = client.get("/api/user", headers={"Authorization": f"Token {TOKEN}"})
        assert profile.status_code == 200, profile.text
        assert profile.json()["username"] == "hubber"
        assert profile.json()["affiliation"] == "EMBL-EBI"
        assert profile.json()["check_interval"] == "weekly"
        assert profile.json()["first_name"] == "Ada"
    for email in ("god@example.org", "hub@example.org", "perl@example.org"):
        assert (stored_account(settings, email).password_hash or "").startswith("$argon2id$")
    # The name Portcullis cannot hold is dropped; the e-mail signs in.
    assert stored_account(settings, "ada@example.org").username is None


def check_summary(stdout: str) -> None:
    assert "imported 6 account(s), 0 tag permission(s), 0 key(s), 1 token(s)" in stdout
    for reason, count in (("email_differs_by_case", 2), ("email_duplicate_in_source", 2)):
        assert f"skipped ({reason}): {count}" in stdout
    assert "note (username_not_kept): 1" in stdout
    assert "note (must_set_password_by_mail): 1" in stdout


@pytest.fixture
def thr_mariadb() -> Iterator[str]:
    with mariadb_database(THR_SCHEMA) as url:
        with connect(url) as connection:
            insert(connection, "users_customuser", DJANGO_USERS)
            insert(connection, "authtoken_token", TOKENS)
        yield url


def test_the_django_registry_from_mariadb(
    thr_mariadb: str, settings: Settings, make_server: MakeServer
) -> None:
    done = import_cli(settings, "thr", thr_mariadb, "--salt", PERL_SALT)
    assert done.returncode == 0, done.stderr
    check_summary(done.stdout)
    check_registry_users(make_server(settings), settings)
    again = import_cli(settings, "thr", thr_mariadb, "--salt", PERL_SALT)
    assert "nothing changed" in again.stdout, again.stderr


def dumpdata(path: Path) -> Path:
    records: list[dict[str, Any]] = []
    for row in DJANGO_USERS:
        fields = {k: v for k, v in row.items() if k != "id"}
        fields["date_joined"] = "2019-05-01T10:00:00Z"
        records.append({"model": "users.customuser", "pk": row["id"], "fields": fields})
    for token in TOKENS:
        fields = {"created": "2024-01-01T00:00:00Z", "user": token["user_id"]}
        records.append({"model": "authtoken.token", "pk": token["key"], "fields": fields})
    records.append({"model": "auth.group", "pk": 1, "fields": {"name": "x", "permissions": []}})
    path.write_bytes(orjson.dumps(records))
    return path


def test_the_django_registry_from_dumpdata(
    tmp_path: Path, settings: Settings, make_server: MakeServer
) -> None:
    done = import_cli(settings, "thr", str(dumpdata(tmp_path / "dump.json")), "--salt", PERL_SALT)
    assert done.returncode == 0, done.stderr
    check_summary(done.stdout)
    check_registry_users(make_server(settings), settings)


PERL_TOKEN = secrets.token_hex(32)  # 64 characters
PERL_USERS = [
    {
        "user_id": 1,
        "username": "perlgod",
        "first_name": "G",
        "last_name": "O",
        "email": "pgod@example.org",
        "password": "TMA9MMhAxWydwnUa6lGTMtxusvAKYJ48iwZdUS42Svc",
        "continuous_alert": 0,
        "affiliation": "",
        "check_interval": 0,
        "auth_key": PERL_TOKEN,
    },
    {
        "user_id": 2,
        "username": "hexuser",
        "first_name": "H",
        "last_name": "X",
        "email": "hex@example.org",
        "password": hashlib.sha256("afs]dt42!grüß".encode("latin-1")).hexdigest(),
        "continuous_alert": 1,
        "affiliation": "Uni",
        "check_interval": 1,
        "auth_key": None,
    },
]


def fill_perl(connection: Any) -> None:
    insert(connection, "users", PERL_USERS)
    insert(connection, "roles", [{"role_id": 1, "name": "user"}, {"role_id": 2, "name": "admin"}])
    insert(connection, "user_roles", [{"user_id": 1, "role_id": 2}, {"user_id": 2, "role_id": 1}])


def check_perl_users(server: RunningServer) -> None:
    with server.client() as client:
        answer = client.post("/auth/login", json={"login": "perlgod", "password": "god"})
        assert answer.status_code == 200 and answer.json()["superuser"] is True
        assert thr_login(client, "hexuser", "grüß").status_code == 200
        profile = client.get("/api/user", headers={"Authorization": f"Token {PERL_TOKEN}"})
        assert profile.status_code == 200 and profile.json()["username"] == "perlgod"


def test_the_perl_registry_from_mariadb(settings: Settings, make_server: MakeServer) -> None:
    with mariadb_database(THR_PERL_SCHEMA) as url:
        with connect(url) as connection:
            fill_perl(connection)
        # The salt from the environment, out of the process list.
        env = {**env_of(settings), "PORTCULLIS_IMPORT_SALT": PERL_SALT}
        done = run_cli(env, "import", "thr-perl", url)
    assert "imported 2 account(s), 0 tag permission(s), 0 key(s), 1 token(s)" in done.stdout, (
        done.stderr
    )
    check_perl_users(make_server(settings))


def test_the_perl_registry_from_sqlite(
    tmp_path: Path, settings_for: SettingsFactory, make_server: MakeServer
) -> None:
    settings = settings_for(session_idle_seconds=1)
    path = tmp_path / "thr.sqlite"
    with sqlite3.connect(path) as raw:
        for statement in THR_PERL_SCHEMA:
            raw.execute(statement)
    with connect(f"sqlite:///{path}") as connection:
        fill_perl(connection)
    done = import_cli(settings, "thr-perl", str(path), "--salt", PERL_SALT)
    assert "imported 2 account(s)" in done.stdout, done.stderr
    server = make_server(settings)
    check_perl_users(server)
    with server.client() as client:
        signed_in = thr_login(client, "hexuser", "grüß").json()["auth_token"]
        time.sleep(1.5)
        # A script's imported token is not ended for being idle; a sign-in's session is.
        for token, status in ((PERL_TOKEN, 200), (signed_in, 401)):
            answer = client.get("/api/user", headers={"Authorization": f"Token {token}"})
            assert answer.status_code == status
    assert (
        "nothing changed" in import_cli(settings, "thr-perl", str(path), "--salt", PERL_SALT).stdout
    )
