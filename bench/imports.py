"""The import's bench: 100,000 BioStudies users with 3 tags each, and a first login's cost.

    .venv/bin/python -m bench.imports [--users 100000] [--databases sqlite,postgresql]

Fills a BioStudies schema in the MariaDB at PORTCULLIS_BENCH_MARIADB_URL, runs the real
``portcullis import biostudies`` into a fresh Portcullis database of each kind and times
it (target: under 2 minutes). Then times, at the operator's default argon2id parameters,
the password work of an ordinary login, an imported account's first login (the legacy
verify and the argon2id hash that replaces it), a wrong password for an imported
account, and a login for an unknown name (the decoy).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url

from portcullis.config import Settings
from portcullis.core.passwords import PasswordHasher
from portcullis.hashing import legacy
from portcullis.services import argon2_of, local_hashing

MARIADB_URL = os.environ.get("PORTCULLIS_BENCH_MARIADB_URL", "mysql://root@127.0.0.1:3306/test")
POSTGRES_URL = os.environ.get(
    "PORTCULLIS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PORTCULLIS = str(Path(sys.executable).with_name("portcullis"))
TARGET_SECONDS = 120
TAGS = ("Public", "EuropePMC", "S-BSST1", "S-BSST2", "S-BIAD")
ACCESS = ("READ", "ATTACH", "ADMIN")
CHUNK = 5000

SCHEMA = (
    """CREATE TABLE User (id BIGINT AUTO_INCREMENT PRIMARY KEY,
        email VARCHAR(255) NOT NULL UNIQUE, fullName VARCHAR(255), login VARCHAR(255) UNIQUE,
        passwordDigest LONGBLOB, secret VARCHAR(255), superuser BIT(1) NOT NULL DEFAULT 0,
        active BIT(1) NOT NULL DEFAULT 0, activationKey VARCHAR(255), keyTime BIGINT,
        notificationsEnabled BIT(1) NOT NULL DEFAULT 0, storageMode VARCHAR(16),
        orcid VARCHAR(255), lastActivity DATETIME)""",
    "CREATE TABLE AccessTag (id BIGINT PRIMARY KEY, name VARCHAR(255) NOT NULL UNIQUE)",
    """CREATE TABLE AccessPermission (id BIGINT AUTO_INCREMENT PRIMARY KEY,
        access_type VARCHAR(255) NOT NULL, user_id BIGINT NOT NULL,
        access_tag_id BIGINT NOT NULL)""",
)


def _pymysql(url: str) -> str:
    return make_url(url).set(drivername="mysql+pymysql").render_as_string(False)


@contextmanager
def biostudies_source(users: int) -> Iterator[str]:
    """A MariaDB database of ``users`` users, each with 3 permissions; dropped after."""
    name = f"portcullis_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(_pymysql(MARIADB_URL))
    with admin.begin() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(MARIADB_URL).set(database=name).render_as_string(False)
    source = create_engine(_pymysql(url))
    try:
        with source.begin() as connection:
            for statement in SCHEMA:
                connection.execute(text(statement))
            _fill(connection, users)
        yield url
    finally:
        source.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


def _fill(connection: Connection, users: int) -> None:
    tags = [{"id": n, "name": tag} for n, tag in enumerate(TAGS, 1)]
    connection.execute(text("INSERT INTO AccessTag (id, name) VALUES (:id, :name)"), tags)
    digest = hashlib.sha1(b"bench password").digest()
    add_user = text(
        "INSERT INTO User (id, email, fullName, passwordDigest, secret, active, keyTime) "
        "VALUES (:id, :email, :name, :digest, :secret, 1, 1700000000000)"
    )
    add_grant = text(
        "INSERT INTO AccessPermission (access_type, user_id, access_tag_id) VALUES (:a, :u, :t)"
    )
    for start in range(1, users + 1, CHUNK):
        ids = range(start, min(start + CHUNK, users + 1))
        connection.execute(
            add_user,
            [
                {
                    "id": n,
                    "email": f"user{n}@example.org",
                    "name": f"User {n}",
                    "digest": digest,
                    "secret": str(uuid.uuid4()),
                }
                for n in ids
            ],
        )
        grants = [
            {"a": ACCESS[k], "u": n, "t": 2 + (n + k) % (len(TAGS) - 1)}
            for n in ids
            for k in range(3)
        ]
        connection.execute(add_grant, grants)


@contextmanager
def portcullis_database(kind: str, folder: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'portcullis.db'}"
        return
    # psql makes and drops it: the service's own driver is async-only.
    name = f"portcullis_bench_{uuid.uuid4().hex[:8]}"
    subprocess.run(["psql", POSTGRES_URL, "-qc", f'CREATE DATABASE "{name}"'], check=True)
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(False)
    finally:
        subprocess.run(
            ["psql", POSTGRES_URL, "-qc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
            check=True,
        )


def time_import(source: str, kind: str) -> tuple[float, str]:
    with tempfile.TemporaryDirectory() as folder, portcullis_database(kind, Path(folder)) as db:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PORTCULLIS_")}
        env.update(PORTCULLIS_DATA_DIR=folder, PORTCULLIS_DATABASE_URL=db)
        if kind != "sqlite":
            subprocess.run([PORTCULLIS, "migrate"], env=env, check=True, capture_output=True)
        started = time.monotonic()
        done = subprocess.run(
            [PORTCULLIS, "import", "biostudies", source],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        return time.monotonic() - started, done.stdout.splitlines()[0]


async def _median_ms(run: Callable[[], Awaitable[object]], times: int) -> float:
    await run()  # unmeasured: the threads and the decoy are made at the first
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        await run()
        spent.append((time.perf_counter() - started) * 1000)
    return statistics.median(spent)


async def login_costs(times: int) -> dict[str, float]:
    """Median milliseconds of each login's password work at the default parameters."""
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder))
        hasher = PasswordHasher(argon2_of(settings), local_hashing(settings))
        password = "correct horse battery"
        ordinary = await hasher.hash(password)
        sha1 = legacy.biostudies_sha1(hashlib.sha1(password.encode()).digest())
        derived = hashlib.pbkdf2_hmac("sha256", password.encode(), b"saltsaltsalt", 1_000_000)
        django = legacy.django(
            f"pbkdf2_sha256$1000000$saltsaltsalt${base64.b64encode(derived).decode()}"
        )
        cases: dict[str, Callable[[], Awaitable[object]]] = {
            "ordinary login (argon2id verify)": lambda: hasher.verify(ordinary, password),
            "first login, BioStudies SHA-1 (verify + argon2id hash)": lambda: hasher.verify(
                sha1, password
            ),
            "first login, Django PBKDF2 1,000,000 (verify + argon2id hash)": lambda: hasher.verify(
                django, password
            ),
            "wrong password, BioStudies SHA-1 (verify + decoy)": lambda: hasher.verify(
                sha1, "wrong"
            ),
            "unknown account (decoy argon2id verify)": lambda: hasher.verify(None, password),
        }
        try:
            return {name: await _median_ms(run, times) for name, run in cases.items()}
        finally:
            hasher.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.imports", description=__doc__)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument(
        "--databases", default="sqlite,postgresql", help="imported into; empty: logins only"
    )
    parser.add_argument("--logins", type=int, default=20, help="runs of each login case")
    args = parser.parse_args(argv)
    missed = False
    kinds = [kind for kind in args.databases.split(",") if kind]
    with biostudies_source(args.users if kinds else 0) as source:
        for kind in kinds:
            seconds, summary = time_import(source, kind)
            missed = missed or seconds > TARGET_SECONDS
            print(f"import {args.users} users x 3 tags into {kind}: {seconds:.1f} s ({summary})")
    for name, ms in asyncio.run(login_costs(args.logins)).items():
        print(f"{name}: {ms:.1f} ms")
    return 2 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
