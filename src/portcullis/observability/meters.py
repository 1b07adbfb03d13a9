"""Meters: the Instruments port and what the adapters count, with nothing counted.

``PrometheusMeters`` (prometheus.py) counts; this base logs the service's events and
is what runs when metrics are off, so the hot path pays one empty call per event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("portcullis.events")


def fields(**values: Any) -> dict[str, Any]:
    """``extra=`` for a structured line: logs.py writes these as its own keys."""
    return {"fields": values}


@dataclass(frozen=True, slots=True)
class Backlog:
    """The outbox at a scrape: unsent mail that will be tried, and the oldest due one's age."""

    depth: int
    oldest_due_seconds: float


class Meters:
    """The core's Instruments plus the adapters' events; logs service events only."""

    enabled = False

    def signed_in(self, outcome: str) -> None:
        pass

    def lockout_started(self, seconds: int) -> None:
        log.info("lockout started", extra=fields(event="lockout_started", hold_seconds=seconds))

    def token_checked(self, outcome: str) -> None:
        pass

    def hashed(self, waited: float, took: float) -> None:
        pass

    def request(self, route: str, method: str, status: int, dialect: str, seconds: float) -> None:
        pass

    def rate_limited(self, limit: str) -> None:
        pass

    def mail_delivered(self, outcome: str) -> None:
        """A mail was ``sent``, ``retried`` (failed, to be tried again) or ``dropped``."""

    def backing_error(self, service: str) -> None:
        """The ``database`` or ``redis`` failed a call (the answer was a 503)."""

    def flush(self) -> None:
        """Write out counts gathered in memory; only PrometheusMeters gathers any."""

    def exposition(self, backlog: Backlog | None) -> bytes:
        """The text a scrape reads; only PrometheusMeters has any."""
        return b""


def meters_for(enabled: bool) -> Meters:
    """Prometheus meters when metrics are on; prometheus-client is imported only then."""
    if not enabled:
        return Meters()
    from portcullis.observability.prometheus import PrometheusMeters

    return PrometheusMeters()
