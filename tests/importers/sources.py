"""The source services' schemas as the reference gives them, in MariaDB and SQLite."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url

MARIADB_URL = os.environ.get("PORTCULLIS_TEST_MARIADB_URL", "mysql://root@127.0.0.1:3306/test")

BIOSTUDIES_SCHEMA = (
    """CREATE TABLE User (
        id BIGINT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(255) NOT NULL UNIQUE,
        fullName VARCHAR(255), login VARCHAR(255) UNIQUE, passwordDigest LONGBLOB,
        secret VARCHAR(255), superuser BIT(1) NOT NULL DEFAULT 0,
        active BIT(1) NOT NULL DEFAULT 0, activationKey VARCHAR(255), keyTime BIGINT,
        notificationsEnabled BIT(1) NOT NULL DEFAULT 0, storageMode VARCHAR(16),
        orcid VARCHAR(255), lastActivity DATETIME, ssoSubject VARCHAR(255)
    ) DEFAULT CHARSET=utf8mb4""",
    """CREATE TABLE AccessTag (
        id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(255) NOT NULL UNIQUE,
        description VARCHAR(255))""",
    """CREATE TABLE AccessPermission (
        id BIGINT AUTO_INCREMENT PRIMARY KEY, access_type VARCHAR(255) NOT NULL,
        user_id BIGINT NOT NULL REFERENCES User(id),
        access_tag_id BIGINT NOT NULL REFERENCES AccessTag(id))""",
)

THR_SCHEMA = (
    """CREATE TABLE users_customuser (
        id INTEGER PRIMARY KEY, password VARCHAR(128) NOT NULL, last_login DATETIME NULL,
        is_superuser BOOL NOT NULL, username VARCHAR(150) NOT NULL UNIQUE,
        email VARCHAR(254) NOT NULL, is_staff BOOL NOT NULL, is_active BOOL NOT NULL,
        date_joined DATETIME NOT NULL, first_name VARCHAR(50) NULL, last_name VARCHAR(50) NULL,
        affiliation VARCHAR(250) NULL, check_interval VARCHAR(20) NOT NULL,
        continuous_alert BOOL NOT NULL, is_account_activated BOOL NOT NULL)""",
    """CREATE TABLE authtoken_token (
        `key` VARCHAR(40) PRIMARY KEY, created DATETIME NOT NULL,
        user_id INTEGER NOT NULL UNIQUE REFERENCES users_customuser(id))""",
)

THR_PERL_SCHEMA = (
    """CREATE TABLE users (
        user_id INTEGER PRIMARY KEY, username VARCHAR(64) NOT NULL UNIQUE, first_name TEXT,
        last_name TEXT, email TEXT, password TEXT, continuous_alert INTEGER,
        affiliation TEXT, check_interval INTEGER, auth_key TEXT)""",
    "CREATE TABLE roles (role_id INTEGER PRIMARY KEY, name TEXT)",
    "CREATE TABLE user_roles (user_id INTEGER, role_id INTEGER)",
)


def _admin_url() -> str:
    return make_url(MARIADB_URL).set(drivername="mysql+pymysql").render_as_string(False)


@contextlib.contextmanager
def mariadb_database(schema: Sequence[str]) -> Iterator[str]:
    """A fresh MariaDB database with ``schema``: its mysql:// URL; dropped afterwards."""
    pytest.importorskip("pymysql", reason="the `import` extra (PyMySQL) is not installed")
    name = f"portcullis_src_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_admin_url())
    try:
        with admin.begin() as connection:
            connection.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
    except Exception as error:  # the server is absent: say so, as the other servers do
        admin.dispose()
        pytest.skip(f"MariaDB not reachable at {MARIADB_URL}: {error}")
    url = make_url(MARIADB_URL).set(database=name).render_as_string(False)
    try:
        with connect(url) as connection:
            for statement in schema:
                connection.execute(text(statement))
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


@contextlib.contextmanager
def connect(url: str) -> Iterator[Connection]:
    if url.startswith("mysql://"):
        url = "mysql+pymysql://" + url.removeprefix("mysql://")
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


def insert(connection: Connection, table: str, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    quoted = ", ".join(
        f"`{c}`" if connection.dialect.name == "mysql" else f'"{c}"' for c in columns
    )
    values = ", ".join(f":{c}" for c in columns)
    statement = text(f"INSERT INTO {table} ({quoted}) VALUES ({values})")
    connection.execute(statement, list(rows))
