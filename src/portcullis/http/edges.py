"""The answers Starlette would give itself, given as this service gives them.

Its router redirects ``/auth/login/`` to an absolute URL built from the Host header, so a
forged Host wrote any site into Location; and its CORS middleware refuses a preflight
with a text/plain 400 that no dialect speaks. Both are replaced here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from urllib.parse import quote

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import RedirectResponse, Response
from starlette.routing import Match, Router
from starlette.types import ASGIApp, Receive, Scope, Send

PlainError = Callable[[Scope, str, int], Response]


class RelativeSlashRedirect:
    """The router's default: a path that a route takes once its trailing slash is added
    or removed is redirected there, by a Location relative to this host (so never to
    whatever Host the request named); anything else is the router's 404.
    """

    def __init__(self, router: Router):
        self.router = router

    def _other_spelling(self, scope: Scope) -> str | None:
        path: str = scope["path"]
        other = path.rstrip("/") if path.endswith("/") else path + "/"
        # "//host" would be a Location on another host; no route starts so anyway.
        if scope["type"] != "http" or path == "/" or not other or other.startswith("//"):
            return None
        candidate = {**scope, "path": other}
        for route in self.router.routes:
            if route.matches(candidate)[0] is not Match.NONE:
                return other
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        other = self._other_spelling(scope)
        if other is None:
            await self.router.not_found(scope, receive, send)
            return
        location = scope.get("root_path", "") + quote(other)
        if scope.get("query_string"):
            location += "?" + scope["query_string"].decode("latin-1")
        await RedirectResponse(location, status_code=307)(scope, receive, send)


def relative_slash_redirects(router: Router) -> None:
    router.redirect_slashes = False
    router.default = RelativeSlashRedirect(router)


class DialectCors(CORSMiddleware):
    """Starlette's CORS with credentials; a refused preflight is told in its path's dialect."""

    def __init__(
        self,
        app: ASGIApp,
        refused: PlainError,
        allow_origins: Sequence[str],
        allow_methods: Sequence[str],
        allow_headers: Sequence[str],
        expose_headers: Sequence[str],
        max_age: int,
    ):
        super().__init__(
            app,
            allow_origins=allow_origins,
            allow_methods=allow_methods,
            allow_headers=allow_headers,
            allow_credentials=True,
            expose_headers=expose_headers,
            max_age=max_age,
        )
        self._refused = refused

    def _is_preflight(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope["method"] != "OPTIONS":
            return False
        headers = Headers(scope=scope)
        return "origin" in headers and "access-control-request-method" in headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._is_preflight(scope):
            await super().__call__(scope, receive, send)
            return
        answer = self.preflight_response(request_headers=Headers(scope=scope))
        if answer.status_code >= 400:
            reason = bytes(answer.body).decode("latin-1")  # "Disallowed CORS origin, method"
            refused = self._refused(scope, f"{reason}.", answer.status_code)
            refused.headers["Vary"] = "Origin"
            answer = refused
        await answer(scope, receive, send)
