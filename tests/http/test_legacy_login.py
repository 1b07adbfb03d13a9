"""An imported hash signs in through either dialect once, and becomes argon2id."""

from __future__ import annotations

import hashlib

import pytest

from portcullis.config import Settings
from portcullis.hashing import legacy
from tests.support import RunningServer, add_account, set_password_hash, stored_account

SHA1_123456 = legacy.biostudies_sha1(hashlib.sha1(b"123456").digest())
PERL_GOD = legacy.thr_perl("salz", "Zx9ldqBNVMpsd/eRE+8veCK3fl7OXFcNTu458u1p2XY")


def stored_hash(settings: Settings, email: str) -> str | None:
    return stored_account(settings, email).password_hash


@pytest.fixture
def imported(settings: Settings) -> str:
    add_account(settings, "old@example.org", username="olduser", full_name="Old User")
    set_password_hash(settings, "old@example.org", SHA1_123456)
    return "old@example.org"


def biostudies_login(server: RunningServer, login: str, password: str) -> int:
    with server.client() as client:
        return client.post("/auth/login", json={"login": login, "password": password}).status_code


def registry_login(server: RunningServer, login: str, password: str) -> int:
    with server.client() as client:
        answer = client.post("/api/login", data={"username": login, "password": password})
        return answer.status_code


@pytest.mark.parametrize("dialect", [biostudies_login, registry_login])
def test_first_login_replaces_the_legacy_hash(
    server: RunningServer, settings: Settings, imported: str, dialect: object
) -> None:
    assert callable(dialect)
    assert dialect(server, "olduser", "123456") == 200
    after = stored_hash(settings, imported)
    assert after is not None and after.startswith("$argon2id$")
    # The new hash holds the same password, and the old one is gone for good.
    assert dialect(server, imported, "123456") == 200
    assert stored_hash(settings, imported) == after


def test_a_wrong_password_leaves_the_legacy_hash(
    server: RunningServer, settings: Settings, imported: str
) -> None:
    assert biostudies_login(server, imported, "654321") == 401
    assert stored_hash(settings, imported) == SHA1_123456


def test_the_stored_hash_is_no_password(
    server: RunningServer, settings: Settings, imported: str
) -> None:
    for typed in (SHA1_123456, SHA1_123456.partition("$")[2]):
        assert biostudies_login(server, imported, typed) == 401
        assert registry_login(server, imported, typed) == 401
    assert stored_hash(settings, imported) == SHA1_123456


def test_the_perl_registry_s_hash(server: RunningServer, settings: Settings, imported: str) -> None:
    set_password_hash(settings, imported, PERL_GOD)
    assert registry_login(server, "olduser", "god") == 200
    assert (stored_hash(settings, imported) or "").startswith("$argon2id$")


@pytest.mark.parametrize("unusable", ["", "!" + "a" * 40, "legacy-django$!" + "b" * 40])
def test_unusable_hashes_never_sign_in(
    server: RunningServer, settings: Settings, imported: str, unusable: str
) -> None:
    set_password_hash(settings, imported, unusable)
    for typed in ("", unusable, "!"):
        assert biostudies_login(server, imported, typed) in (400, 401)
