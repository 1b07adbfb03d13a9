"""Sealing outbox payloads, which may carry a one-time key until the mail is sent."""

from __future__ import annotations

import base64
import hashlib
import hmac

import orjson
from cryptography.fernet import Fernet


class Sealer:
    """Authenticated encryption (Fernet) under a key derived from the server secret.

    Keys are stored only as hashes; the mail that carries one must wait in the database
    until it is delivered, so it waits sealed: the database files never hold it in clear.
    """

    def __init__(self, server_secret: bytes):
        derived = hmac.new(server_secret, b"mail-outbox", hashlib.sha256).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, values: dict[str, str]) -> str:
        return self._fernet.encrypt(orjson.dumps(values)).decode()

    def open(self, sealed: str) -> dict[str, str]:
        """Raises cryptography.fernet.InvalidToken if sealed under another secret."""
        values = orjson.loads(self._fernet.decrypt(sealed.encode()))
        assert isinstance(values, dict)
        return values
