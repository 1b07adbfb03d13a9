"""The CLI's long lists a page at a time: ``--limit`` shows one page and says where the
next starts; without it every page is shown, each read in a transaction of its own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, TypeVar

import typer

from portcullis.core.paging import MAX_LIMIT, Page

T = TypeVar("T")

LIMIT = Annotated[
    int | None,
    typer.Option(min=1, max=MAX_LIMIT, help="Show one page of this many; unset, every one."),
]
CURSOR = Annotated[
    str | None, typer.Option(help="Start where an earlier page said the next one starts.")
]


async def show_pages(
    read: Callable[[int, str | None], Awaitable[Page[T]]],
    limit: int | None,
    cursor: str | None,
    show_page: Callable[[Sequence[T], bool], None],
) -> str | None:
    """Read pages (``read(size, cursor)``) from ``cursor`` on and hand each to
    ``show_page`` with whether it is the first: one page of ``limit`` if given, else
    every page. The cursor of the page left unshown, if any.

    Each page is shown before the next is read: never every row of a large portal in
    memory at once.
    """
    first, next_page = True, cursor
    while True:
        page = await read(limit or MAX_LIMIT, next_page)
        show_page(page.items, first)
        first, next_page = False, page.next
        if next_page is None or limit is not None:
            return next_page


def say_next_page(cursor: str | None) -> None:
    """On stderr, so a script reading stdout sees only rows."""
    if cursor is not None:
        typer.echo(f"more: run again with --cursor {cursor}", err=True)
