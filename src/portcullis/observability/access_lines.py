"""One access line a request, written straight to stderr in the log lines' own format.

Not through ``logging``: a record costs 23 µs a line on this machine kind (LogRecord,
the filter, the handler's lock, the formatter), the line itself 2 (measured in
docs/performance.md), and the token check writes one for every request a portal
serves. The line is the one JsonLines or TextLines (logs.py) would write for
``portcullis.access``, key for key, so collectors see no difference.

On the event loop, the lines of one turn of the loop go out together at its end: under
load a turn answers tens of requests, and a write a line woke whatever reads stderr
(journald, a container runtime) once a request. A line waits at most until the loop's
next turn, and is written whole; what is left is written at exit.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import select
import sys
import time
import weakref
from datetime import UTC, datetime
from typing import TextIO

import orjson

LOGGER = "portcullis.access"
# The end of a line's time for each millisecond: formatting it was a sixth of the line.
MILLISECONDS = tuple(f".{ms:03d}+00:00" for ms in range(1000))


# A write of at most PIPE_BUF bytes reaches a pipe whole (POSIX), so lines from several
# workers sharing one stderr never interleave: a turn's lines go out in writes no longer.
BATCH_BYTES = select.PIPE_BUF


class AccessLines:
    """Writes each request's line whole, never split, so lines never interleave."""

    def __init__(self, line_format: str):
        self._json = line_format == "json"
        self._second = -1
        self._stamp = ""
        self._stream: TextIO | None = None
        self._descriptor: int | None = None
        self._pending = bytearray()  # lines of this turn of the loop, not yet written
        _unwritten_at_exit.add(self)

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
        """The line straight to stderr's descriptor while stderr is the process's own,
        at the end of this turn of the loop; through whatever else stderr is now (a
        test's capture, a file object), at once."""
        stream = sys.stderr  # looked up each time: whatever stderr is now
        if stream is not self._stream:
            self.flush()  # what was pending goes where it was meant to go
            self._stream, self._descriptor = stream, _descriptor_of(stream)
        if self._descriptor is None:
            stream.write(line.decode())
            stream.flush()
            return
        if len(self._pending) + len(line) > BATCH_BYTES:
            self.flush()
        first = not self._pending
        self._pending += line
        if first:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no loop runs here: nothing would come back for it
                self.flush()

    def flush(self) -> None:
        """Writes the pending lines, after whatever stderr's buffer holds, in one write
        (a write cut short by a signal is finished, never left half a line)."""
        if not self._pending or self._descriptor is None:
            return
        pending, self._pending = self._pending, bytearray()
        if self._stream is not None:
            self._stream.flush()  # nothing to write, mostly: logging flushes each record
        view = memoryview(pending)
        while view:
            view = view[os.write(self._descriptor, view) :]

    def _time(self, nanoseconds: int) -> str:
        """``2026-12-02T17:08:25.123+00:00``, the part before the milliseconds made once a
        second (formatting a datetime was a third of the line's cost)."""
        second, rest = divmod(nanoseconds, 1_000_000_000)
        if second != self._second:
            self._second = second
            self._stamp = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return self._stamp + MILLISECONDS[rest // 1_000_000]


_unwritten_at_exit: weakref.WeakSet[AccessLines] = weakref.WeakSet()


@atexit.register
def _flush_all() -> None:
    for lines in list(_unwritten_at_exit):
        lines.flush()


def _descriptor_of(stream: TextIO) -> int | None:
    """The descriptor under ``stream`` when it is the process's real stderr, else None."""
    if stream is not sys.__stderr__:
        return None
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):  # closed, or no descriptor at all
        return None
