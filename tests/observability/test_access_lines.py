"""The access line, written apart from logging, is the line logging's formatters write."""

from __future__ import annotations

import json
import logging

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
