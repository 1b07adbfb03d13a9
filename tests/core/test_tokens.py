"""The keyed hashes tokens are stored and looked up by."""

from __future__ import annotations

import hmac

import pytest

from portcullis.core.tokens import Hasher, PreparedHmac


@pytest.mark.parametrize("key", [b"", b"k" * 32, b"k" * 64, b"k" * 65, bytes(range(200))])
@pytest.mark.parametrize("message", [b"", b"x" * 43, "t\u00f6ken".encode(), b"y" * 300])
def test_prepared_hmac_is_hmac_sha256(key: bytes, message: bytes) -> None:
    assert PreparedHmac(key).digest(message) == hmac.digest(key, message, "sha256")


def test_a_token_hashes_the_same_each_time_and_differs_by_server_secret() -> None:
    hasher = Hasher(b"s" * 32)
    assert hasher.token_hash("token") == hasher.token_hash("token")
    assert hasher.token_hash("token") != Hasher(b"t" * 32).token_hash("token")
    assert hasher.token_hash("token") != hasher.key_hash("token")
