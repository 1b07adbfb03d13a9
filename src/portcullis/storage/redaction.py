"""What a database error may say in a log line: its kind and where, never the values.

SQLAlchemy's errors name the statement's parameters (``hide_parameters`` in
database.py stops that), but the driver's message is kept whole inside them, and an
asyncpg error's text carries PostgreSQL's DETAIL: "Failing row contains (...)" is the
whole row, password hash and secret included; asyncpg's own "invalid input for query
argument $4: '...'" quotes the value. So every log record of the service has its
database errors (raised, or passed as an argument) told by ``describe`` instead.
"""

from __future__ import annotations

import logging
import sqlite3
import traceback

import asyncpg
from sqlalchemy.exc import DBAPIError, StatementError

DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    StatementError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    sqlite3.Error,
)
# asyncpg's attributes naming where an error arose: names from the schema, not values.
_WHERE = ("sqlstate", "schema_name", "table_name", "column_name", "constraint_name")


def describe(error: BaseException) -> str:
    """The error's class and, for a database error, only what names no stored value."""
    name = f"{type(error).__module__}.{type(error).__qualname__}"
    if not isinstance(error, DATABASE_ERRORS):
        return f"{name}: {error}"
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    where = [f"{key}={getattr(cause, key)}" for key in _WHERE if getattr(cause, key, None)]
    return f"{name} ({', '.join(where) or 'no detail'}; the message is withheld)"


def redacted_traceback(error: BaseException) -> str:
    """The traceback of ``error`` and its causes, each told by ``describe``."""
    chain: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = "".join(traceback.format_tb(current.__traceback__))
        chain.append(f"Traceback (most recent call last):\n{frames}{describe(current)}\n")
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return "\nThe error above led to the error below:\n\n".join(reversed(chain))


class RedactDatabaseErrors(logging.Filter):
    """Tells a record's exception and arguments so no database error speaks whole."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            # logging.Formatter prints exc_text when it is set, instead of formatting
            # exc_info itself; exc_info stays for whatever inspects the record.
            record.exc_text = redacted_traceback(record.exc_info[1]).rstrip("\n")
        if isinstance(record.args, tuple):
            record.args = tuple(
                describe(arg) if isinstance(arg, DATABASE_ERRORS) else arg for arg in record.args
            )
        return True


def redact_database_errors(*logger_names: str) -> None:
    """Put the filter on each named logger, once (a logger's filters see only its own)."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactDatabaseErrors) for f in logger.filters):
            logger.addFilter(RedactDatabaseErrors())
