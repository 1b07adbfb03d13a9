"""The outermost middleware: a request id, one access line and the request's counts."""

from __future__ import annotations

import time
from collections.abc import Iterable

from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portcullis.http.common import CLIENT_ADDRESS_KEY
from portcullis.observability.access_lines import AccessLines
from portcullis.observability.context import (
    REQUEST_ID_HEADER,
    RequestContext,
    current,
    dialect_of,
    request_id_from,
)
from portcullis.observability.meters import Meters

UNMATCHED = "unmatched"  # every path no route takes, so a scan cannot grow the label set


class RouteTemplates:
    """The template of the route that took a request (``/auth/activate/{key}``).

    Never the path itself: a path holds keys, e-mail addresses and session ids.
    """

    def __init__(self, routes: Iterable[BaseRoute]):
        routes = list(routes)
        self._plain = {r.path for r in routes if isinstance(r, Route) and not r.param_convertors}
        self._mounts = [r.path + "/" for r in routes if isinstance(r, Mount)]
        self._templated = [r for r in routes if isinstance(r, Route) and r.param_convertors]
        self._by_endpoint: dict[object, list[Route]] = {}
        for route in self._templated:
            self._by_endpoint.setdefault(route.endpoint, []).append(route)

    def of(self, scope: Scope) -> str:
        path: str = scope["path"]
        if path in self._plain:
            return path
        for mount in self._mounts:
            if path.startswith(mount):
                return mount + "{path}"
        # The router left the endpoint it chose in the scope: only its routes are tried.
        # A request refused before routing (a rate limit, a body too large) tries them all.
        endpoint = scope.get("endpoint")
        candidates = self._templated if endpoint is None else self._by_endpoint.get(endpoint, ())
        for route in candidates:
            if route.matches(scope)[0] is not Match.NONE:
                return route.path
        return UNMATCHED


class Observed:
    """Gives every request an id (X-Request-ID, valid or made) that each line about it
    carries and its answer returns; then counts it and writes its access line."""

    def __init__(
        self,
        app: ASGIApp,
        routes: RouteTemplates,
        meters: Meters,
        access_lines: AccessLines | None,
    ):
        self.app = app
        self.routes = routes
        self.meters = meters
        self.access_lines = access_lines

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = next((v for k, v in scope["headers"] if k == REQUEST_ID_HEADER), None)
        context = RequestContext(request_id_from(given), dialect_of(scope["path"]))
        reset = current.set(context)
        status = 500  # what the client sees if nothing was sent: uvicorn's own 500
        id_header = (REQUEST_ID_HEADER, context.request_id.encode("ascii"))

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._note(scope, context, status, time.perf_counter() - started)
            current.reset(reset)

    def _note(self, scope: Scope, context: RequestContext, status: int, seconds: float) -> None:
        route = self.routes.of(scope)
        method: str = scope["method"]
        self.meters.request(route, method, status, context.dialect, seconds)
        if self.access_lines is None:
            return
        peer = scope.get("client")
        client = scope.get(CLIENT_ADDRESS_KEY) or (peer[0] if peer else None)
        self.access_lines.write(
            method, route, status, seconds, client, context.dialect, context.request_id
        )
