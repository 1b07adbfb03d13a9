"""The keyed hashes tokens are stored and looked up by."""

from __future__ import annotations

import hmac

import pytest

from portcullis.core.tokens import Hasher


@pytest.mark.parametrize("token", ["", "x" * 43, "t\u00f6ken", "y" * 300, "\udcff"])
def test_a_token_hash_is_hmac_sha256_under_the_token_key(token: str) -> None:
    """Stored hashes must keep matching: the keyed-once HMAC is the plain one."""
    secret = b"s" * 32
    key = hmac.digest(secret, b"session-token", "sha256")
    expected = hmac.digest(key, token.encode("utf-8", "surrogatepass"), "sha256")
    hasher = Hasher(secret)
    assert hasher.token_hash(token) == expected
    assert hasher.token_hash(token) == expected  # and again: the keyed state is not used up


def test_a_token_hashes_the_same_each_time_and_differs_by_server_secret() -> None:
    hasher = Hasher(b"s" * 32)
    assert hasher.token_hash("token") == hasher.token_hash("token")
    assert hasher.token_hash("token") != Hasher(b"t" * 32).token_hash("token")
    assert hasher.token_hash("token") != hasher.key_hash("token")
