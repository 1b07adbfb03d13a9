"""Pages of a long list: a limit, and a cursor that says where the next page starts.

A cursor, not an offset: an offset makes the database read and skip every row before
the page (millions, deep in a portal's audit trail), and rows added meanwhile shift
every later page. A cursor names the last row a page showed; the next page starts
after it, found through the index the list is sorted by.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from portcullis.core.errors import InvalidInput

T = TypeVar("T")

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
BAD_CURSOR = "cursor: not a cursor this service gave (start again without one)"


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: Sequence[T]
    next: str | None  # the cursor of the page after this one; None: this one is the last


def cursor_of(row_id: int) -> str:
    """Opaque on purpose: clients pass it back, and do not build their own."""
    return base64.urlsafe_b64encode(f"id:{row_id}".encode()).decode().rstrip("=")


def row_id_of(cursor: str | None) -> int | None:
    """The row a cursor names; None for none (or an empty one, as ``?cursor=``). Raises
    InvalidInput for any other text."""
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput([BAD_CURSOR]) from None
    kind, _, number = text.partition(":")
    if kind != "id" or not (number.isascii() and number.isdigit()) or len(number) > 18:
        raise InvalidInput([BAD_CURSOR])
    return int(number)


def page_of(rows: Sequence[tuple[int, T]], limit: int) -> Page[T]:
    """The page from ``limit + 1`` rows read (row id, item): one more than shown says
    whether another page follows, without counting the rest."""
    shown = rows[:limit]
    more = len(rows) > limit
    return Page([item for _, item in shown], cursor_of(shown[-1][0]) if more else None)


def bounded(limit: int) -> int:
    return max(1, min(limit, MAX_LIMIT))
