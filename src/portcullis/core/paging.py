"""Pages of a long list: a limit, and a cursor that says where the next page starts.

A cursor, not an offset: an offset makes the database read and skip every row before
the page (millions, deep in a portal's audit trail), and rows added meanwhile shift
every later page. A cursor names the last row a page showed; the next page starts
after it, found through the index the list is sorted by.

Two kinds: ``id:N`` for lists sorted by an integer row id (accounts, the audit trail),
``at:SECONDS:ID`` for lists of rows with random string ids (sessions, access tokens),
sorted newest first by when each was made, the id breaking ties within a second.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, Protocol, TypeVar

from portcullis.core.errors import InvalidInput

T = TypeVar("T")

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
BAD_CURSOR = "cursor: not a cursor this service gave (start again without one)"
# Longer than any id the service makes or imports; bounds what a forged cursor carries.
MAX_CURSOR_ID = 64
MAX_DIGITS = 18  # within a 64-bit integer on every database


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: Sequence[T]
    next: str | None  # the cursor of the page after this one; None: this one is the last


@dataclass(frozen=True, slots=True)
class Position:
    """Where a newest-first walk stands: the made-at time (whole seconds, as stored) and
    id of the last row shown; the next page holds the rows sorted after it."""

    created_at: datetime
    id: str


def _encoded(text: str) -> str:
    """Opaque on purpose: clients pass it back, and do not build their own."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decoded(cursor: str, kind: str) -> str:
    """What follows ``kind:`` in ``cursor``. Raises InvalidInput for any other text."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput([BAD_CURSOR]) from None
    found, _, rest = text.partition(":")
    if found != kind:
        raise InvalidInput([BAD_CURSOR])
    return rest


def _whole_number(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_DIGITS:
        raise InvalidInput([BAD_CURSOR])
    return int(text)


def cursor_of(row_id: int) -> str:
    return _encoded(f"id:{row_id}")


def row_id_of(cursor: str | None) -> int | None:
    """The row a cursor names; None for none (or an empty one, as ``?cursor=``). Raises
    InvalidInput for any other text."""
    if not cursor:
        return None
    return _whole_number(_decoded(cursor, "id"))


def cursor_at(position: Position) -> str:
    return _encoded(f"at:{int(position.created_at.timestamp())}:{position.id}")


def position_of(cursor: str | None) -> Position | None:
    """The position a cursor names; None for none (or an empty one). Raises InvalidInput
    for any other text, an ``id:`` cursor included."""
    if not cursor:
        return None
    seconds, _, row_id = _decoded(cursor, "at").partition(":")
    # Printable ASCII only: PostgreSQL's text cannot hold a NUL, and no id has one.
    if not (0 < len(row_id) <= MAX_CURSOR_ID and row_id.isascii() and row_id.isprintable()):
        raise InvalidInput([BAD_CURSOR])
    try:
        created_at = datetime.fromtimestamp(_whole_number(seconds), UTC)
    except (OverflowError, OSError, ValueError):  # beyond the years a datetime holds
        raise InvalidInput([BAD_CURSOR]) from None
    return Position(created_at, row_id)


def page_of(rows: Sequence[tuple[int, T]], limit: int) -> Page[T]:
    """The page from ``limit + 1`` rows read (row id, item): one more than shown says
    whether another page follows, without counting the rest."""
    shown = rows[:limit]
    more = len(rows) > limit
    return Page([item for _, item in shown], cursor_of(shown[-1][0]) if more else None)


class Dated(Protocol):
    """A row a newest-first list holds: when it was made, and its id."""

    @property
    def created_at(self) -> datetime: ...
    @property
    def id(self) -> str: ...


D = TypeVar("D", bound=Dated)


def newest_page(items: Sequence[D], limit: int) -> Page[D]:
    """The page from ``limit + 1`` items read newest first, as ``page_of`` makes one."""
    shown = items[:limit]
    more = len(items) > limit
    last = shown[-1] if more else None
    return Page(shown, cursor_at(Position(last.created_at, last.id)) if last else None)


def bounded(limit: int) -> int:
    return max(1, min(limit, MAX_LIMIT))
