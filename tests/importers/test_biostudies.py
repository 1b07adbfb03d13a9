"""`portcullis import biostudies` from a real MariaDB, then signing in as before."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from portcullis.config import Settings
from tests.conftest import MakeServer
from tests.importers.sources import BIOSTUDIES_SCHEMA, connect, insert, mariadb_database
from tests.importers.support import env_of, import_cli
from tests.processes import run_cli
from tests.support import add_account, stored_account

ADMIN_SECRET = "69214a2f-f80b-4f33-86b7-26d3bd0453aa"
PENDING_KEY = str(uuid.uuid4())


def user(id: int, email: str, password: str | None, **columns: Any) -> dict[str, Any]:
    digest = hashlib.sha1(password.encode()).digest() if password else password
    return {
        "id": id,
        "email": email,
        "fullName": columns.pop("fullName", f"User {id}"),
        "login": columns.pop("login", None),
        "passwordDigest": digest,
        "secret": columns.pop("secret", str(uuid.uuid4())),
        "superuser": columns.pop("superuser", 0),
        "active": columns.pop("active", 1),
        "activationKey": columns.pop("activationKey", None),
        "keyTime": 1_700_000_000_000 + id,
        "notificationsEnabled": 1,
        "storageMode": columns.pop("storageMode", "NFS"),
        "orcid": columns.pop("orcid", None),
    }


USERS = [
    user(1, "default_user@ebi.ac.uk", None, fullName="@Default", active=0),
    # The reference's worked examples: the seeded admin_user, and id 3's folder path.
    user(
        3,
        "admin_user@ebi.ac.uk",
        "123456",
        login="admin_user",
        secret=ADMIN_SECRET,
        superuser=1,
        orcid="0000-0002-1825-0097",
        storageMode="FTP",
    ),
    user(7, "pending@example.org", "pending pw", active=0, activationKey=PENDING_KEY),
    user(8, "checkreg@example.org", "", active=0),
    user(11, "not an address", "z"),
    user(12, "here@example.org", "w"),
]
# BioStudies' unique e-mail and login columns fold case already (MariaDB's collation):
# the clashes between rows are tried on the registry's, where e-mail is not unique.
TAGS = [(1, "Public"), (2, "EuropePMC"), (3, "S-BSST1")]
GRANTS = [("READ", 3, 3), ("ADMIN", 3, 3), ("READ", 3, 2), ("ATTACH", 3, 3), ("READ", 7, 2)]


@pytest.fixture
def source() -> Iterator[str]:
    with mariadb_database(BIOSTUDIES_SCHEMA) as url:
        with connect(url) as connection:
            insert(connection, "User", USERS)
            insert(connection, "AccessTag", [{"id": i, "name": n} for i, n in TAGS])
            grants = [{"access_type": a, "user_id": u, "access_tag_id": t} for a, u, t in GRANTS]
            insert(connection, "AccessPermission", grants)
        yield url


def login(client: httpx.Client, who: str, password: str) -> httpx.Response:
    return client.post("/auth/login", json={"login": who, "password": password})


def test_users_sign_in_as_before_with_the_same_folder_and_tags(
    source: str, settings: Settings, make_server: MakeServer
) -> None:
    add_account(settings, "here@example.org")  # already a user here: not overwritten
    done = import_cli(settings, "biostudies", source)
    assert done.returncode == 0, done.stderr
    assert "imported 3 account(s), 5 tag permission(s), 1 key(s), 0 token(s)" in done.stdout
    for reason in ("system_account", "invalid_email", "email_already_here"):
        assert f"skipped ({reason}): 1" in done.stdout
    assert "note (must_set_password_by_mail): 1" in done.stdout

    server = make_server(settings)
    with server.client() as client:
        answer = login(client, "admin_user", "123456")
        assert answer.status_code == 200, answer.text
        profile = answer.json()
        assert profile["secret"] == f"69/{ADMIN_SECRET[2:]}-a3"
        assert profile["allow"] == ["admin_user@ebi.ac.uk", "Public", "S-BSST1", "EuropePMC"]
        assert profile["superuser"] is True
        assert profile["uploadType"] == "ftp"
        assert profile["orcid"] == "0000-0002-1825-0097"
        checked = client.get("/auth/check", headers={"X-Session-Token": profile["sessid"]})
        assert checked.json()["secret"] == profile["secret"]
        # The pending user's mailed link still works.
        assert login(client, "pending@example.org", "pending pw").status_code == 401
        assert client.post(f"/auth/activate/{PENDING_KEY}").status_code == 200
        assert login(client, "pending@example.org", "pending pw").status_code == 200
        # The one who never chose a password sets one by mail.
        assert login(client, "checkreg@example.org", "").status_code in (400, 401)
    assert (stored_account(settings, "admin_user@ebi.ac.uk").password_hash or "").startswith(
        "$argon2id$"
    )
    # The same password through the registry's dialect.
    with server.client() as client:
        answer = client.post("/api/login", data={"username": "admin_user", "password": "123456"})
    assert answer.status_code == 200


def test_a_second_run_changes_nothing_and_says_so(source: str, settings: Settings) -> None:
    assert import_cli(settings, "biostudies", source).returncode == 0
    before = run_cli(env_of(settings), "export", "--with-hashes").stdout
    again = import_cli(settings, "biostudies", source)
    assert again.returncode == 0, again.stderr
    assert run_cli(env_of(settings), "export", "--with-hashes").stdout == before
    assert len(before.splitlines()) == 4
    assert "imported 0 account(s)" in again.stdout
    assert "already here from an earlier run: 4" in again.stdout
    assert "nothing changed" in again.stdout


def test_a_dry_run_counts_and_writes_nothing(source: str, settings: Settings) -> None:
    dry = import_cli(settings, "biostudies", source, "--dry-run")
    assert "would import 4 account(s)" in dry.stdout, dry.stderr
    assert "dry run: nothing was written" in dry.stdout
    real = import_cli(settings, "biostudies", source)
    assert "imported 4 account(s)" in real.stdout


def test_an_older_schema_without_the_newer_columns(
    settings: Settings, make_server: MakeServer
) -> None:
    # Before 2022 the ORCID iD sat in auxProfileInfo; storageMode and lastActivity came later.
    older = [
        s.replace(
            ", storageMode VARCHAR(16),\n        orcid VARCHAR(255), lastActivity DATETIME",
            ", auxProfileInfo LONGTEXT",
        )
        for s in BIOSTUDIES_SCHEMA
    ]
    assert "storageMode" not in older[0] and "auxProfileInfo" in older[0]
    with mariadb_database(older) as url:
        row = {
            k: v
            for k, v in user(3, "a@example.org", "pw").items()
            if k not in ("storageMode", "orcid")
        }
        row["auxProfileInfo"] = '{"orcid":"0000-0002-1825-0097"}'
        with connect(url) as connection:
            insert(connection, "User", [row])
        done = import_cli(settings, "biostudies", url)
    assert "imported 1 account(s)" in done.stdout, done.stderr
    with make_server(settings).client() as client:
        profile = login(client, "a@example.org", "pw").json()
    assert profile["orcid"] == "0000-0002-1825-0097"
    assert profile["uploadType"] == "nfs"
