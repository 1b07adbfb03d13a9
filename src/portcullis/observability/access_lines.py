"""One access line a request, written straight to stderr in the log lines' own format.

Not through ``logging``: a record costs 23 µs a line on this machine kind (LogRecord,
the filter, the handler's lock, the formatter), the line itself 2 (measured in
docs/performance.md), and the token check writes one for every request a portal
serves. The line is the one JsonLines or TextLines (logs.py) would write for
``portcullis.access``, key for key, so collectors see no difference.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime

import orjson

LOGGER = "portcullis.access"


class AccessLines:
    """Writes each request's line whole, in one call, so lines never interleave."""

    def __init__(self, line_format: str):
        self._json = line_format == "json"
        self._second = -1
        self._stamp = ""

    def write(
        self,
        method: str,
        route: str,
        status: int,
        seconds: float,
        client: str | None,
        dialect: str,
        request_id: str,
    ) -> None:
        message = f"{method} {route} {status}"
        duration_ms = round(seconds * 1000, 3)
        at = self._time(time.time())
        if self._json:
            # One dict in the formatter's key order (head, request_id, fields), not merged.
            line = orjson.dumps(
                {
                    "time": at,
                    "level": "info",
                    "logger": LOGGER,
                    "message": message,
                    "request_id": request_id,
                    "event": "request",
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": duration_ms,
                    "client": client,
                    "dialect": dialect,
                },
                option=orjson.OPT_APPEND_NEWLINE,
            ).decode()
        else:
            line = (
                f"{at[11:19]} INFO    {message}  method={method}  route={route}  status={status}"
                f"  duration_ms={duration_ms}  client={client}  dialect={dialect}"
                f"  request_id={request_id}\n"
            )
        stream = sys.stderr  # looked up each time: whatever stderr is now (a test's, a file)
        stream.write(line)
        stream.flush()

    def _time(self, at: float) -> str:
        """``2026-12-02T17:08:25.123+00:00``, the part before the milliseconds made once a
        second (formatting a datetime was a third of the line's cost)."""
        second = int(at)
        if second != self._second:
            self._second = second
            self._stamp = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._stamp}.{int((at - second) * 1000):03d}+00:00"
