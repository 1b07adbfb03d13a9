"""Signed double-submit CSRF tokens, bound to the browser's session once it has one.

The browser holds a random nonce in a cookie; every form carries an HMAC, under the server
secret, of that nonce and of the browser's session token (none before sign-in). A
cross-site form can read neither cookie, so it cannot send the field. Anyone can fetch a
nonce and its token for himself, and a sibling site can plant that cookie in a victim's
browser; but once the victim is signed in, the token also depends on the victim's session
token, which the attacker does not know, so his own pair is refused. The pages renew the
nonce at sign-in and sign-out, so no token outlives either.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

COOKIE = "portcullis-csrf"
FIELD = "csrf_token"
# Exactly what this module hands out, in ASCII: anything else (other bytes, other
# lengths) is refused before any comparison, which would raise on non-ASCII text.
_NONCE = re.compile(r"[A-Za-z0-9_-]{43}")
_TOKEN = re.compile(r"[0-9a-f]{64}")


class Csrf:
    def __init__(self, secret: bytes):
        self._key = hashlib.sha256(b"portcullis csrf\x00" + secret).digest()

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(32)

    @staticmethod
    def usable_nonce(nonce: str | None) -> str | None:
        """``nonce`` if this module could have made it, else None (the page makes a new one)."""
        return nonce if nonce is not None and _NONCE.fullmatch(nonce) else None

    def token_for(self, nonce: str, session_token: str | None) -> str:
        """The form field for ``nonce`` in the browser holding ``session_token`` (or none)."""
        # The nonce never holds a NUL, so the message splits back into its two parts one way.
        message = b"%s\x00%s" % (
            nonce.encode(),
            (session_token or "").encode("utf-8", "surrogatepass"),
        )
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def valid(self, nonce: str | None, session_token: str | None, token: str | None) -> bool:
        """True when ``token`` was made by this server for ``nonce`` and this session."""
        usable = self.usable_nonce(nonce)
        if usable is None or token is None or not _TOKEN.fullmatch(token):
            return False
        return hmac.compare_digest(self.token_for(usable, session_token), token)
