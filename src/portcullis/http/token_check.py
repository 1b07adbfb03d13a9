"""The token checks (``GET /auth/profile``, ``/auth/verify``) answered ahead of the stack."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from portcullis.core.errors import PortcullisError, Unavailable
from portcullis.http.guards import NO_STORE, SAFE_HEADERS, unreadable_url
from portcullis.observability.meters import Meters

log = logging.getLogger("portcullis")

Endpoint = Callable[[Request], Awaitable[Response]]


class TokenCheckFirst:
    """Every request a portal serves begins with this check, so it skips what it needs not.

    It reads no body (so no body limit), is not rate limited (so no client address or
    limits), and maps its own errors; it skips routing and those layers, and sends the
    same safe headers. Behind a CORS allow-list, requests that name an Origin take the
    whole stack, for its CORS headers (the profile check only: a proxy's forward-auth
    subrequest carries the original request's Origin, and wants no CORS); so does a
    query string it cannot read.

    ``endpoints`` maps each path to its methods (None: any, as forward-auth is asked
    about every method a proxy forwards) and its handler.
    """

    def __init__(
        self,
        app: ASGIApp,
        endpoints: dict[str, tuple[frozenset[str] | None, Endpoint]],
        error_for: Callable[[Scope, PortcullisError], Response],
        internal_error: Callable[[Scope], Response],
        unavailable: tuple[type[Exception], ...],
        cors_paths: frozenset[str],
        meters: Meters,
    ):
        self.meters = meters
        self.app = app
        self.endpoints = endpoints
        self.error_for = error_for
        self.internal_error = internal_error
        self.unavailable = unavailable
        self.cors_paths = cors_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.endpoints.get(scope["path"]) if scope["type"] == "http" else None
        if (
            found is None
            or (found[0] is not None and scope["method"] not in found[0])
            or (
                scope["path"] in self.cors_paths
                and any(name == b"origin" for name, _ in scope["headers"])
            )
            # A query string it cannot read is the stack's 400 (ReadableUrls), as elsewhere.
            or (scope["query_string"] and unreadable_url(scope) is not None)
        ):
            await self.app(scope, receive, send)
            return
        try:
            response = await found[1](Request(scope, receive))
        except PortcullisError as problem:
            response = self.error_for(scope, problem)
        except self.unavailable as error:  # the once-a-minute activity write can meet these
            log.warning("database unavailable: %s", error)
            self.meters.backing_error("database")
            response = self.error_for(scope, Unavailable())
        except Exception:
            log.exception("unexpected error on %s %s", scope["method"], scope["path"])
            response = self.internal_error(scope)
        present = {name for name, _ in response.raw_headers}
        response.raw_headers.extend(h for h in (*SAFE_HEADERS, NO_STORE) if h[0] not in present)
        await response(scope, receive, send)


class TokenChecksInside(Starlette):
    """Starlette, but the token checks enter below its outermost layer.

    That layer (ServerErrorMiddleware) answers an exception that escaped every other
    with a plain-text 500, wrapping each message sent on the way. TokenCheckFirst
    catches whatever its checks raise, and uvicorn answers anything else with the same
    plain 500, so for the two requests a portal sends most the layer is cost alone.
    """

    def __init__(self, *args: Any, token_check_paths: frozenset[str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._paths = token_check_paths
        self._inside: ASGIApp | None = None

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        self._inside = stack.app if isinstance(stack, ServerErrorMiddleware) else stack
        return stack

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        inside = self._inside
        if inside is not None and scope["type"] == "http" and scope["path"] in self._paths:
            scope["app"] = self
            await inside(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
