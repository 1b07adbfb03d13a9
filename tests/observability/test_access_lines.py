"""The access line, written apart from logging, is the line logging's formatters write."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import select
import subprocess
import sys
from collections.abc import Iterator

import pytest

from portcullis.observability.access_lines import LOGGER, AccessLines
from portcullis.observability.logs import JsonLines, TextLines
from portcullis.observability.meters import fields

REQUEST = ("POST", "/auth/verify", 401, 0.0012345, "192.0.2.7", "biostudies", "probe-1")


def formatted_by_logging(formatter: logging.Formatter) -> str:
    method, route, status, seconds, client, dialect, request_id = REQUEST
    record = logging.LogRecord(
        LOGGER, logging.INFO, "", 0, "%s %s %s", (method, route, status), None
    )
    line = fields(
        event="request",
        method=method,
        route=route,
        status=status,
        duration_ms=round(seconds * 1000, 3),
        client=client,
        dialect=dialect,
    )
    for name, value in {**line, "request_id": request_id}.items():
        setattr(record, name, value)
    return formatter.format(record)


def written(line_format: str, capsys: pytest.CaptureFixture[str]) -> str:
    AccessLines(line_format).write(*REQUEST)
    out = capsys.readouterr().err
    assert out.endswith("\n") and out.count("\n") == 1
    return out[:-1]


def test_json_line_has_the_formatters_keys_and_values(capsys: pytest.CaptureFixture[str]) -> None:
    ours = json.loads(written("json", capsys))
    theirs = json.loads(formatted_by_logging(JsonLines()))
    assert list(ours) == list(theirs)
    # The times differ by the moments they were made; the formats do not.
    assert len(ours.pop("time")) == len(theirs.pop("time")) == 29
    assert ours == theirs


def test_text_line_is_the_text_formatters(capsys: pytest.CaptureFixture[str]) -> None:
    ours = written("text", capsys)
    theirs = formatted_by_logging(TextLines())
    assert ours[8:] == theirs[8:]  # after HH:MM:SS
    assert ours[2] == ours[5] == ":"


@contextlib.contextmanager
def stderr_pipe(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, list[int]]]:
    """The process's stderr (descriptor 2, and sys.stderr its own again) made a pipe, as
    under a supervisor, with the size of each os.write to it recorded; gives the pipe's
    reading end, which never blocks. Entered in the test itself: pytest's capture sets
    its own descriptor 2 and sys.stderr for each test's call, after the fixtures."""
    reading, writing = os.pipe()
    os.set_blocking(reading, False)
    fcntl.fcntl(writing, fcntl.F_SETPIPE_SZ, 1024 * 1024)  # room for every line of the test
    saved = os.dup(2)
    os.dup2(writing, 2)
    sizes: list[int] = []
    real_write = os.write

    def recorded(descriptor: int, data: bytes | memoryview) -> int:
        if descriptor == 2:
            sizes.append(len(memoryview(data)))
        return real_write(descriptor, data)

    with monkeypatch.context() as patched:
        patched.setattr(sys, "stderr", sys.__stderr__)
        patched.setattr(os, "write", recorded)
        try:
            yield reading, sizes
        finally:
            os.dup2(saved, 2)
            for descriptor in (saved, reading, writing):
                os.close(descriptor)


def drained(reading: int) -> bytes:
    try:
        return os.read(reading, 1024 * 1024)
    except BlockingIOError:
        return b""


def test_the_lines_of_one_turn_of_the_loop_go_out_together_at_its_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    access_lines = AccessLines("json")

    async def one_turn(reading: int) -> tuple[bytes, bytes]:
        for n in range(3):
            access_lines.write("GET", "/auth/verify", 200, 0.001, None, "biostudies", f"t-{n}")
        during = drained(reading)
        await asyncio.sleep(0)  # the turn ends; the next begins with the pending lines
        await asyncio.sleep(0)
        return during, drained(reading)

    with stderr_pipe(monkeypatch) as (reading, sizes):
        during, after = asyncio.run(one_turn(reading))
    assert during == b""
    assert [json.loads(line)["request_id"] for line in after.splitlines()] == ["t-0", "t-1", "t-2"]
    assert sizes == [len(after)]  # one write for the three


def test_a_busy_turns_lines_go_out_in_writes_a_pipe_takes_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    access_lines = AccessLines("json")

    async def one_turn() -> None:
        for n in range(200):
            access_lines.write("GET", "/auth/profile", 200, 0.001, None, "biostudies", f"b-{n}")
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    with stderr_pipe(monkeypatch) as (reading, sizes):
        asyncio.run(one_turn())
        written = drained(reading)
    assert [json.loads(line)["request_id"] for line in written.splitlines()] == [
        f"b-{n}" for n in range(200)
    ]
    assert len(sizes) > 1 and max(sizes) <= select.PIPE_BUF
    assert sum(sizes) == len(written)


def test_a_line_written_off_the_loop_goes_out_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    with stderr_pipe(monkeypatch) as (reading, sizes):
        AccessLines("text").write(*REQUEST)
        written = drained(reading)
    assert written.endswith(b"request_id=probe-1\n")
    assert sizes == [len(written)]


def test_lines_still_pending_when_the_process_exits_are_written() -> None:
    """The loop ends in the very turn that wrote the line: the exit writes it."""
    program = (
        "import asyncio, sys\n"
        "from portcullis.observability.access_lines import AccessLines\n"
        "lines = AccessLines('json')\n"
        "async def main():\n"
        "    lines.write('GET', '/healthz', 200, 0.001, None, 'biostudies', 'at-exit')\n"
        "    sys.exit(0)\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, timeout=60, check=True
    )
    assert json.loads(done.stderr)["request_id"] == "at-exit"
