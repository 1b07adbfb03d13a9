"""One access line a request, written straight to stderr in the log lines' own format.

Not through ``logging``: a record costs 23 µs a line on this machine kind (LogRecord,
the filter, the handler's lock, the formatter), the line itself 2 (measured in
docs/performance.md), and the token check writes one for every request a portal
serves. The line is the one JsonLines or TextLines (logs.py) would write for
``portcullis.access``, key for key, so collectors see no difference.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime
from typing import TextIO

import orjson

LOGGER = "portcullis.access"
# The end of a line's time for each millisecond: formatting it was a sixth of the line.
MILLISECONDS = tuple(f".{ms:03d}+00:00" for ms in range(1000))


class AccessLines:
    """Writes each request's line whole, in one call, so lines never interleave."""

    def __init__(self, line_format: str):
        self._json = line_format == "json"
        self._second = -1
        self._stamp = ""
        self._stream: TextIO | None = None
        self._descriptor: int | None = None

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
        at = self._time(time.time_ns())
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
            )
        else:
            line = (
                f"{at[11:19]} INFO    {message}  method={method}  route={route}  status={status}"
                f"  duration_ms={duration_ms}  client={client}  dialect={dialect}"
                f"  request_id={request_id}\n"
            ).encode()
        self._put(line)

    def _put(self, line: bytes) -> None:
        """The line in one write: straight to stderr's descriptor while stderr is the
        process's own (its buffer flushed first, so lines logged before stay before);
        through whatever else stderr is now (a test's capture, a file object)."""
        stream = sys.stderr  # looked up each time: whatever stderr is now
        if stream is not self._stream:
            self._stream, self._descriptor = stream, _descriptor_of(stream)
        if self._descriptor is None:
            stream.write(line.decode())
            stream.flush()
            return
        stream.flush()  # nothing to write, mostly: logging flushes after each record
        while line:  # a line is far below PIPE_BUF: one write, whole, except on a signal
            line = line[os.write(self._descriptor, line) :]

    def _time(self, nanoseconds: int) -> str:
        """``2026-12-02T17:08:25.123+00:00``, the part before the milliseconds made once a
        second (formatting a datetime was a third of the line's cost)."""
        second, rest = divmod(nanoseconds, 1_000_000_000)
        if second != self._second:
            self._second = second
            self._stamp = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return self._stamp + MILLISECONDS[rest // 1_000_000]


def _descriptor_of(stream: TextIO) -> int | None:
    """The descriptor under ``stream`` when it is the process's real stderr, else None."""
    if stream is not sys.__stderr__:
        return None
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):  # closed, or no descriptor at all
        return None
