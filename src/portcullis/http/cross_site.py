"""The BioStudies session cookie, refused on a state-changing request from another site.

A browser attaches the ``BIOSTDSESS-<env>`` cookie to any request for this service,
whoever's page sends it, and a ``text/plain`` POST needs no CORS preflight: a foreign
page could end every session of its visitor or, as a superuser's, make accounts. So a
request that is not GET, HEAD or OPTIONS may use the cookie only when the browser says
it comes from this service (``PORTCULLIS_PUBLIC_URL``) or an origin allowed by CORS:
its Origin, or with none, Sec-Fetch-Site ``same-origin`` or ``none`` (typed, bookmarked).
A request naming neither is refused: every browser since 2020 names one, and scripts
send the token in X-Session-Token, which no other site can make a browser send.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from starlette.requests import Request

from portcullis.core.errors import NotAllowed

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_PORTS = {"http": 80, "https": 443}
TRUSTED_FETCH_SITES = frozenset({"same-origin", "none"})
CROSS_SITE = (
    "A request from another site may not use the session cookie; send the token in X-Session-Token."
)


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of ``url`` as browsers write an Origin; None if it has none."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # a port that is not a number, brackets that do not close
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in DEFAULT_PORTS or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    shown_port = "" if port in (None, DEFAULT_PORTS[scheme]) else f":{port}"
    return f"{scheme}://{host}{shown_port}"


class TrustedOrigins:
    """This service's own origin and the CORS allow-list."""

    def __init__(self, public_url: str, cors_origins: Iterable[str]):
        origins = (origin_of(url) for url in (public_url, *cors_origins))
        self._origins = frozenset(origin for origin in origins if origin)

    def sent(self, headers: Mapping[str, str]) -> bool:
        """Whether the browser says the request comes from a trusted page."""
        origin = headers.get("origin")
        if origin is not None:
            return origin_of(origin) in self._origins
        return headers.get("sec-fetch-site", "").lower() in TRUSTED_FETCH_SITES


class SessionCookie:
    """The cookie a browser holds the session token in, and when it may be used."""

    def __init__(self, name: str, origins: TrustedOrigins):
        self.name = name
        self._origins = origins

    def token(
        self, request: Request, method: str | None = None, name: str | None = None
    ) -> str | None:
        """The cookie's token, if any. Raises NotAllowed on a cross-site state change.

        ``method`` is the request's unless given (forward-auth: the original request's);
        ``name`` is this cookie's unless given (forward-auth reads the pages' too).
        """
        value = request.cookies.get(name or self.name)
        unsafe = (method or request.method) not in SAFE_METHODS
        if value and unsafe and not self._origins.sent(request.headers):
            raise NotAllowed(CROSS_SITE)
        return value


def session_cookie_of(public_url: str, cors_origins: Iterable[str], name: str) -> SessionCookie:
    """The BioStudies cookie, trusted from this service's pages and the CORS allow-list."""
    return SessionCookie(name, TrustedOrigins(public_url, cors_origins))
