"""Signed double-submit CSRF tokens.

The browser holds a random nonce in a cookie; every form carries an HMAC of that nonce
under the server secret. A cross-site form cannot read the cookie, and a cookie planted
by a sibling site cannot come with a matching field without the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

COOKIE = "portcullis-csrf"
FIELD = "csrf_token"
_MAX_LENGTH = 128


class Csrf:
    def __init__(self, secret: bytes):
        self._key = hashlib.sha256(b"portcullis csrf\x00" + secret).digest()

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(32)

    def token_for(self, nonce: str) -> str:
        return hmac.new(self._key, nonce.encode(), hashlib.sha256).hexdigest()

    def valid(self, nonce: str | None, token: str | None) -> bool:
        """True when ``token`` was made for ``nonce`` by this server."""
        if not nonce or not token or len(nonce) > _MAX_LENGTH or len(token) > _MAX_LENGTH:
            return False
        return hmac.compare_digest(self.token_for(nonce), token)
