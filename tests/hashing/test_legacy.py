"""The legacy verifiers, on the reference's worked examples and on hashes made here."""

from __future__ import annotations

import asyncio
import base64
import hashlib

import pytest
from argon2 import PasswordHasher as Argon2Hasher

from portcullis.core.passwords import HashThreads, LocalHashing, PasswordHasher, argon2id
from portcullis.hash_service import HashService, RemoteHashing
from portcullis.hashing import legacy

DJANGO_GOD = (
    "pbkdf2_sha256$1000000$abcdefghijklmnopqrstuv$N3iWXqLMrktE4t5DznuiD1flNvbRNjCIIaRBmSu0jVY="
)


def django_pbkdf2(password: str, salt: str, iterations: int, digest: str = "sha256") -> str:
    derived = hashlib.pbkdf2_hmac(digest, password.encode(), salt.encode(), iterations)
    return f"pbkdf2_{digest}${iterations}${salt}${base64.b64encode(derived).decode()}"


def perl_sha256(salt: str, password: str) -> bytes:
    return hashlib.sha256((salt + password).encode("latin-1")).digest()


class TestBioStudiesSha1:
    def test_the_seeded_admin_digest(self) -> None:
        stored = legacy.biostudies_sha1(bytes.fromhex("7c4a8d09ca3762af61e59520943dc26494f8941b"))
        assert legacy.verify(stored, "123456")
        assert not legacy.verify(stored, "1234567")

    def test_the_digest_itself_is_not_a_password(self) -> None:
        stored = legacy.biostudies_sha1(hashlib.sha1(b"secret").digest())
        assert not legacy.verify(stored, stored)
        assert not legacy.verify(stored, hashlib.sha1(b"secret").hexdigest())

    def test_a_digest_of_another_length_is_refused_at_import(self) -> None:
        with pytest.raises(ValueError, match="20 bytes"):
            legacy.biostudies_sha1(b"\x00" * 19)


class TestDjango:
    def test_the_reference_example_at_a_million_rounds(self) -> None:
        assert legacy.verify(legacy.django(DJANGO_GOD), "god")
        assert not legacy.verify(legacy.django(DJANGO_GOD), "God")

    @pytest.mark.parametrize("iterations", [150_000, 260_000, 390_000, 600_000])
    def test_each_release_s_count_is_read_from_the_row(self, iterations: int) -> None:
        stored = legacy.django(django_pbkdf2("hunter22", "salt12chars!", iterations))
        assert legacy.verify(stored, "hunter22")

    def test_pbkdf2_sha1(self) -> None:
        stored = legacy.django(django_pbkdf2("old one", "abc", 20_000, "sha1"))
        assert legacy.verify(stored, "old one")
        assert not legacy.verify(stored, "old two")

    def test_argon2(self) -> None:
        made = Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1).hash("pässword")
        stored = legacy.django("argon2" + made)
        assert legacy.verify(stored, "pässword")
        assert not legacy.verify(stored, "password")

    def test_bcrypt_sha256(self) -> None:
        bcrypt = pytest.importorskip("bcrypt", reason="bcrypt comes with portcullis[import]")
        prehashed = hashlib.sha256(b"a long passphrase " * 8).hexdigest().encode()
        made = bcrypt.hashpw(prehashed, bcrypt.gensalt(4)).decode()
        stored = legacy.django("bcrypt_sha256$" + made)
        assert legacy.verify(stored, "a long passphrase " * 8)
        assert not legacy.verify(stored, "a long passphrase")

    @pytest.mark.parametrize(
        "field",
        ["!" + "x" * 40, "", "md5$abc$def", "pbkdf2_sha256$0$s$AAAA", "pbkdf2_sha256$x$s$AAAA"],
    )
    def test_unusable_and_unknown_never_match(self, field: str) -> None:
        assert not legacy.verify(legacy.django(field), "")
        assert not legacy.verify(legacy.django(field), field)

    def test_hostile_iteration_counts_are_not_run(self) -> None:
        stored = legacy.django("pbkdf2_sha256$999999999999$salt$AAAA")
        assert not legacy.verify(stored, "anything")

    def test_hostile_argon2_memory_is_not_spent(self) -> None:
        made = Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1).hash("pw")
        hostile = made.replace("m=1024", "m=4194304")
        assert not legacy.verify(legacy.django("argon2" + hostile), "pw")


class TestPerlRegistry:
    @pytest.mark.parametrize(
        ("salt", "stored"),
        [
            ("salz", "Zx9ldqBNVMpsd/eRE+8veCK3fl7OXFcNTu458u1p2XY"),
            ("afs]dt42!", "TMA9MMhAxWydwnUa6lGTMtxusvAKYJ48iwZdUS42Svc"),
        ],
    )
    def test_the_reference_examples(self, salt: str, stored: str) -> None:
        assert legacy.verify(legacy.thr_perl(salt, stored), "god")
        assert not legacy.verify(legacy.thr_perl(salt, stored), "dog")
        assert not legacy.verify(legacy.thr_perl("other", stored), "god")

    def test_hex_padded_and_raw_forms(self) -> None:
        digest = perl_sha256("salz", "god")
        for form in (
            digest.hex(),
            base64.b64encode(digest).decode(),
            digest.decode("latin-1"),
        ):
            assert legacy.verify(legacy.thr_perl("salz", form), "god"), form

    def test_latin1_passwords_as_perl_hashed_them(self) -> None:
        digest = perl_sha256("salz", "grüß")
        stored = base64.b64encode(digest).decode().rstrip("=")
        assert legacy.verify(legacy.thr_perl("salz", stored), "grüß")

    def test_the_stored_hash_is_not_a_password(self) -> None:
        stored = "Zx9ldqBNVMpsd/eRE+8veCK3fl7OXFcNTu458u1p2XY"
        assert not legacy.verify(legacy.thr_perl("salz", stored), stored)


def test_untagged_and_unknown_schemes_never_match() -> None:
    assert not legacy.verify("7c4a8d09ca3762af61e59520943dc26494f8941b", "123456")
    assert not legacy.verify("legacy-md5$e10adc3949ba59abbe56e057f20f883e", "123456")


def test_the_workers_hash_service_checks_legacy_hashes_too() -> None:
    """With several workers a login's hashes go to serve's process: legacy ones as well."""
    argon2 = argon2id(1024, 1, 1)
    service = HashService(LocalHashing(argon2, HashThreads(1), legacy.LegacyVerifier()))
    stored = legacy.thr_perl("salz", "Zx9ldqBNVMpsd/eRE+8veCK3fl7OXFcNTu458u1p2XY")

    async def run() -> tuple[bool, bool, str | None]:
        hasher = PasswordHasher(argon2, RemoteHashing(str(service.path)))
        try:
            wrong = await hasher.verify(stored, "dog")
            right = await hasher.verify(stored, "god")
            return wrong.ok, right.ok, right.new_hash
        finally:
            hasher.close()

    try:
        wrong, right, new_hash = asyncio.run(run())
    finally:
        service.close()
    assert (wrong, right) == (False, True)
    assert new_hash is not None and new_hash.startswith("$argon2id$")
