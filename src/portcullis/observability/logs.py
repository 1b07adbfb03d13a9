"""Log lines as JSON objects (for collectors) or as text (for a terminal).

Every line written while a request is served carries its request id. Structured
fields come from ``extra=fields(...)`` (meters.py) and become keys of their own.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from portcullis.observability.context import current

# The loggers whose lines we format: ours, and uvicorn's own start-up and error lines.
LOGGERS = ("portcullis", "uvicorn", "uvicorn.error")


def resolved_format(setting: str) -> str:
    """``json`` or ``text``; unset, text on a terminal and JSON anywhere else."""
    if setting:
        return setting
    return "text" if sys.stderr.isatty() else "json"


class RequestIds(logging.Filter):
    """Adds the current request's id to every record made while it is served."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            context = current.get()
            record.request_id = context.request_id if context else None
        return True


def _lean_records() -> None:
    """Stop gathering what no line of ours shows: the caller's file and line (a walk up
    the stack), the thread and the process. That was two thirds of an access line's cost
    (cProfile: 1.9 s for 20,000 lines, most of it in LogRecord and findCaller)."""
    logging._srcfile = None  # the switch logging documents for this
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


class _Lines(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        _lean_records()  # made by dictConfig in serve and in each of uvicorn's workers


def _fields_of(record: logging.LogRecord) -> dict[str, Any]:
    values: dict[str, Any] = getattr(record, "fields", None) or {}
    return values


class JsonLines(_Lines):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            line["request_id"] = request_id
        line.update(_fields_of(record))
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextLines(_Lines):
    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        parts = [f"{at} {record.levelname:<7} {record.getMessage()}"]
        parts += [f"{key}={value}" for key, value in _fields_of(record).items() if key != "event"]
        request_id = getattr(record, "request_id", None)
        if request_id:
            parts.append(f"request_id={request_id}")
        text = "  ".join(parts)
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def log_config(setting: str) -> dict[str, Any]:
    """A logging.config.dictConfig for serve and for each of uvicorn's workers."""
    formatter = JsonLines if resolved_format(setting) == "json" else TextLines
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_ids": {"()": RequestIds}},
        "formatters": {"lines": {"()": formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "lines",
                "filters": ["request_ids"],
            }
        },
        "loggers": {
            name: {"handlers": ["stderr"], "level": "INFO", "propagate": False} for name in LOGGERS
        },
    }
