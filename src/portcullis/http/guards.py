"""Pure-ASGI middleware for every request: client address, rate limits, body limit, headers."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable, Sequence
from urllib.parse import unquote_to_bytes

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portcullis.core.errors import InvalidInput, PortcullisError
from portcullis.core.ports import RateLimiter
from portcullis.http.common import CLIENT_ADDRESS_KEY, NO_NULL_CHARACTERS, BodyTooLarge

log = logging.getLogger("portcullis")

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SAFE_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
NO_STORE = (b"cache-control", b"no-store")


class BodyLimit:
    """Refuses bodies over ``limit`` bytes with 413, before they are read whole.

    A declared Content-Length over the limit is refused at once; a body that grows past
    it while streaming (chunked) raises BodyTooLarge from ``receive``.
    """

    def __init__(self, app: ASGIApp, limit: int, too_large: Callable[[Scope], Response]):
        self.app = app
        self.limit = limit
        self.too_large = too_large

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self.too_large(scope)(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge()
            return message

        await self.app(scope, limited_receive, send)


class SafeHeaders:
    """nosniff and no-referrer everywhere; no-store on API answers (tokens, profiles)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_api = scope["path"].startswith(("/auth", "/api"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in SAFE_HEADERS if h[0] not in present)
                if is_api and b"cache-control" not in present:
                    headers.append(NO_STORE)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class CatchAll:
    """Turns an unexpected exception into the dialect's 500, inside SafeHeaders.

    Starlette's own handler for ``Exception`` sits outside every middleware, so its
    answers would miss the safe headers.
    """

    def __init__(self, app: ASGIApp, internal_error: Callable[[Scope], Response]):
        self.app = app
        self.internal_error = internal_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unexpected error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await self.internal_error(scope)(scope, receive, send)


NOT_UTF8_URL = "The address is not valid UTF-8."


def unreadable_url(scope: Scope) -> str | None:
    """Why the path or query string of ``scope`` cannot be read as text, if it cannot.

    Starlette and uvicorn decode percent-escapes that are not UTF-8 into U+FFFD, so what
    a handler reads would not be what was sent; they keep a NUL (``%00``) as it is.
    """
    path = unquote_to_bytes(scope.get("raw_path") or scope["path"].encode())
    query = unquote_to_bytes(scope["query_string"])
    if b"\x00" in path or b"\x00" in query:
        return NO_NULL_CHARACTERS
    try:
        path.decode("utf-8")
        query.decode("utf-8")
    except UnicodeDecodeError:
        return NOT_UTF8_URL
    return None


class ReadableUrls:
    """Refuses a path or query string holding a NUL or bytes that are not UTF-8: a 400.

    Bodies are checked where they are read (``read_fields``, the pages' forms); headers
    never carry a NUL (the HTTP parser refuses them) and are read as latin-1, which any
    bytes are. Path parameters (an e-mail address, a session id) and query parameters
    reach database queries that would fail on a NUL, and would be stored altered.
    """

    def __init__(self, app: ASGIApp, error_for: Callable[[Scope, PortcullisError], Response]):
        self.app = app
        self.error_for = error_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = unreadable_url(scope) if scope["type"] == "http" else None
        if problem is not None:
            await self.error_for(scope, InvalidInput([problem]))(scope, receive, send)
            return
        await self.app(scope, receive, send)


def parse_networks(items: Iterable[str]) -> list[IpNetwork]:
    return [ipaddress.ip_network(item.strip(), strict=False) for item in items]


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


class ClientAddress:
    """Decides the client address once, into ``scope["portcullis.client_address"]``.

    The socket's peer, unless that peer is a trusted proxy: then the right-most entry of
    X-Forwarded-For that is not itself a trusted proxy. Entries left of it were written
    by the client and prove nothing, so they are never used.
    """

    def __init__(self, app: ASGIApp, trusted: Sequence[IpNetwork]):
        self.app = app
        self.trusted = list(trusted)

    def _is_trusted(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(address in network for network in self.trusted)

    def address_of(self, scope: Scope) -> str | None:
        peer = scope.get("client")
        address = peer[0] if peer else None
        current = _ip(address) if address else None
        if current is None or not self._is_trusted(current):
            return address
        forwarded = b",".join(v for k, v in scope["headers"] if k == b"x-forwarded-for")
        for entry in reversed(forwarded.decode("latin-1").split(",")):
            hop = _ip(entry)
            if hop is None:
                break  # garbage from here leftwards: the last good hop is the answer
            current = hop
            if not self._is_trusted(hop):
                break
        return str(current)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[CLIENT_ADDRESS_KEY] = self.address_of(scope)
        await self.app(scope, receive, send)


# Per-address rules by path: password spraying (login), account and mail bombing
# (register, mail), key guessing (key). Paths not listed are not limited here.
RULES_BY_PATH = {
    "/auth/login": "login",
    "/auth/signin": "login",
    "/api/login": "login",
    "/api/user/login": "login",
    "/auth/register": "register",
    "/auth/signup": "register",
    "/auth/password/reset": "mail",
    "/auth/retryact": "mail",
    "/auth/activate": "mail",
    "/auth/password/change": "key",
    "/auth/password/setup": "key",
    # The registry's account views, under both of its prefixes, spend the budgets of the
    # BioStudies calls they stand for; change_password asks for the current password.
    **{
        f"{prefix}/{view}": rule
        for prefix in ("/api", "/api/user")
        for view, rule in (
            ("register", "register"),
            ("reset_password_email", "mail"),
            ("email_verification", "key"),
            ("reset_password", "key"),
            ("reset_password_complete", "key"),
            ("change_password", "login"),
        )
    },
}
KEY_PREFIX = "/auth/activate/"
# The pages' forms spend the same budgets as the API calls they stand for; their GETs
# only show forms, except the activation and reset pages, which look their key up to
# say whether the link still works. Every request that tries a key is counted under "key".
PAGE_RULES_BY_PATH = {
    "/account/signin": "login",
    "/account/profile/password": "login",  # asks for the current password
    "/account/register": "register",
    "/account/password/forgot": "mail",
    "/account/activation/resend": "mail",
    "/account/profile/email": "mail",
    "/account/profile/delete": "login",  # asks for the password
}
PAGE_KEY_PREFIXES = {
    "GET": ("/account/activate/", "/account/password/reset/"),
    "POST": ("/account/activate/", "/account/password/reset/"),
}


def rule_for(method: str, path: str) -> str | None:
    # Starlette answers HEAD with the GET handler, so HEAD must cost what GET costs.
    method = "GET" if method == "HEAD" else method
    path = path.rstrip("/") or "/"
    if path.startswith("/account/"):
        if method == "POST" and path in PAGE_RULES_BY_PATH:
            return PAGE_RULES_BY_PATH[path]
        return "key" if path.startswith(PAGE_KEY_PREFIXES.get(method, ())) else None
    return RULES_BY_PATH.get(path) or ("key" if path.startswith(KEY_PREFIX) else None)


class AddressLimits:
    """Counts each request to a limited endpoint against its client address.

    Over budget: the dialect's 429 with Retry-After. Counters unreachable: its 503.
    """

    def __init__(
        self,
        app: ASGIApp,
        limiter: RateLimiter,
        error_for: Callable[[Scope, PortcullisError], Response],
    ):
        self.app = app
        self.limiter = limiter
        self.error_for = error_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rule = rule_for(scope["method"], scope["path"]) if scope["type"] == "http" else None
        if rule is None or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        address = scope.get(CLIENT_ADDRESS_KEY) or "-"
        try:
            await self.limiter.hit(rule, address)
        except PortcullisError as refused:
            await self.error_for(scope, refused)(scope, receive, send)
            return
        await self.app(scope, receive, send)
