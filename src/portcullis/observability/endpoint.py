"""GET /metrics: the scrape, for a bearer of the metrics token or an allowed address."""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Sequence

from starlette.requests import Request
from starlette.responses import Response

from portcullis.http.common import CLIENT_ADDRESS_KEY
from portcullis.observability.meters import Backlog, Meters

log = logging.getLogger("portcullis")

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
EXPOSITION_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class MetricsEndpoint:
    def __init__(
        self,
        meters: Meters,
        backlog: Callable[[], Awaitable[Backlog]],
        token: str,
        allowed: Sequence[IpNetwork],
    ):
        self._meters = meters
        self._backlog = backlog
        self._token = token.encode()
        self._allowed = list(allowed)

    def _permitted(self, request: Request) -> bool:
        if self._token:
            given = request.headers.get("authorization", "").encode("latin-1")
            if hmac.compare_digest(given, b"Bearer " + self._token):
                return True
        address = request.scope.get(CLIENT_ADDRESS_KEY)
        try:
            client = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        return any(client in network for network in self._allowed)

    async def scrape(self, request: Request) -> Response:
        if not self._permitted(request):
            # A token is what most scrapers hold; the challenge says which kind.
            headers = {"WWW-Authenticate": 'Bearer realm="metrics"'} if self._token else None
            status = 401 if self._token else 403
            return Response(b"Not allowed.\n", status, headers, media_type="text/plain")
        try:
            backlog: Backlog | None = await self._backlog()
        except Exception as error:  # a scrape must still report the counts, and the failure
            log.warning("the outbox could not be read for metrics: %s", type(error).__name__)
            self._meters.backing_error("database")
            backlog = None
        return Response(self._meters.exposition(backlog), media_type=EXPOSITION_TYPE)
