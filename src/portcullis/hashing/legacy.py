"""Verifiers for the hashes an import brings: BioStudies, Django, the Perl registry.

Each hash is stored as found, behind a tag naming its scheme (``legacy-<scheme>$...``),
so that nothing can mistake it for an argon2 hash and the scheme needs no column. They
run on the hashing threads (LocalHashing.verify_now sends them here), never on the event
loop: Django's PBKDF2 at a million rounds costs as much as an argon2id hash.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable

from argon2 import PasswordHasher as Argon2Hasher
from argon2 import extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from portcullis.core.passwords import LEGACY_PREFIX

SHA1 = "sha1"
DJANGO = "django"
THR_PERL = "thr-perl"

# A row's own iteration count is trusted up to this: a hostile or broken row must not
# make one login hold a hashing thread for minutes. Django 5.2 uses 1,000,000.
MAX_PBKDF2_ITERATIONS = 10_000_000
SHA1_BYTES = 20
# Likewise for a row's argon2 parameters (Django's default: 100 MiB, 2 passes).
MAX_ARGON2_KIB = 1024 * 1024
MAX_ARGON2_TIME = 100


def tagged(scheme: str, payload: str) -> str:
    """The stored form of a legacy hash: its scheme, then the hash as found."""
    return f"{LEGACY_PREFIX}{scheme}${payload}"


def biostudies_sha1(digest: bytes) -> str:
    """BioStudies' ``passwordDigest`` (20 raw bytes) as stored here.

    Raises ValueError for a digest that is not 20 bytes.
    """
    if len(digest) != SHA1_BYTES:
        raise ValueError(f"a SHA-1 digest is 20 bytes, not {len(digest)}")
    return tagged(SHA1, digest.hex())


def django(password_field: str) -> str:
    return tagged(DJANGO, password_field)


def thr_perl(salt: str, stored: str) -> str:
    """The Perl registry's hash with the operator's salt it needs (base64url: no ``$``)."""
    encoded = base64.urlsafe_b64encode(salt.encode("utf-8")).decode()
    return tagged(THR_PERL, f"{encoded}${stored}")


def verify(stored_hash: str, password: str) -> bool:
    """Whether ``password`` (as typed, not normalised: the old service hashed it so) is
    the one ``stored_hash`` was made from. False for anything not understood."""
    scheme, _, payload = stored_hash.removeprefix(LEGACY_PREFIX).partition("$")
    check = _VERIFIERS.get(scheme)
    if not stored_hash.startswith(LEGACY_PREFIX) or check is None:
        return False
    try:
        return check(payload, password)
    except (ValueError, binascii.Error, UnicodeError):
        return False


def _sha1(payload: str, password: str) -> bool:
    digest = hashlib.sha1(password.encode("utf-8")).digest()  # noqa: S324 (theirs, verified once)
    return hmac.compare_digest(digest, bytes.fromhex(payload))


def _django(payload: str, password: str) -> bool:
    algorithm, _, rest = payload.partition("$")
    if algorithm in ("pbkdf2_sha256", "pbkdf2_sha1"):
        return _django_pbkdf2(algorithm.removeprefix("pbkdf2_"), rest, password)
    if algorithm == "argon2":
        return _django_argon2(rest, password)
    if algorithm == "bcrypt_sha256":
        return _django_bcrypt_sha256(rest, password)
    return False


def _django_pbkdf2(digest: str, rest: str, password: str) -> bool:
    iterations, salt, expected = rest.split("$", 2)
    rounds = int(iterations)
    if not 0 < rounds <= MAX_PBKDF2_ITERATIONS:
        return False
    derived = hashlib.pbkdf2_hmac(digest, password.encode(), salt.encode(), rounds)
    return hmac.compare_digest(derived, base64.b64decode(expected, validate=True))


def _django_argon2(rest: str, password: str) -> bool:
    # Django writes argon2-cffi's own string after its "argon2" tag.
    try:
        parameters = extract_parameters("$" + rest)
        if parameters.memory_cost > MAX_ARGON2_KIB or parameters.time_cost > MAX_ARGON2_TIME:
            return False
        return Argon2Hasher().verify("$" + rest, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _django_bcrypt_sha256(rest: str, password: str) -> bool:
    try:
        import bcrypt  # the optional `import` extra; without it such hashes never match
    except ImportError:
        return False
    # Django hashes the password to hex first: bcrypt reads only 72 bytes.
    prehashed = hashlib.sha256(password.encode()).hexdigest().encode()
    return bool(bcrypt.checkpw(prehashed, rest.encode("ascii")))


def _thr_perl(payload: str, password: str) -> bool:
    encoded_salt, _, stored = payload.partition("$")
    salt = base64.urlsafe_b64decode(encoded_salt)
    digest = hashlib.sha256(salt + _perl_bytes(password)).digest()
    expected = _perl_digest(stored)
    return expected is not None and hmac.compare_digest(digest, expected)


def _perl_bytes(password: str) -> bytes:
    """Perl hashed a string of characters up to U+00FF as Latin-1, a wider one as UTF-8."""
    try:
        return password.encode("latin-1")
    except UnicodeEncodeError:
        return password.encode("utf-8")


def _perl_digest(stored: str) -> bytes | None:
    """The 32 bytes of a stored Perl hash in any form its verifier took: base64 without
    padding (what it wrote), padded base64, hex, or the raw digest."""
    if len(stored) == 64:
        return bytes.fromhex(stored)
    if len(stored) in (43, 44):
        return base64.b64decode(stored.rstrip("=") + "=", validate=True)
    if len(stored) == 32:
        return stored.encode("latin-1")
    return None


_VERIFIERS: dict[str, Callable[[str, str], bool]] = {
    SHA1: _sha1,
    DJANGO: _django,
    THR_PERL: _thr_perl,
}


class LegacyVerifier:
    """The core's LegacyVerifier: every scheme above."""

    def verify(self, stored_hash: str, password: str) -> bool:
        return verify(stored_hash, password)
