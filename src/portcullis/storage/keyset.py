"""Newest-first pages of rows with random string ids (sessions, access tokens)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Select, tuple_

from portcullis.core.paging import Position


def newest_first(
    query: Select[Any],
    created_at: Column[int],
    row_id: Column[str],
    after: Position | None,
    limit: int | None,
) -> Select[Any]:
    """``query`` sorted by (``created_at``, ``row_id``) descending, from the first row
    after ``after`` if given, at most ``limit`` rows.

    One direction for both columns, and a row-value comparison: so SQLite and PostgreSQL
    both read the page straight off an index on (account_id, created_at, id), however
    deep the page, with no sort.
    """
    query = query.order_by(created_at.desc(), row_id.desc())
    if after is not None:
        start = (int(after.created_at.timestamp()), after.id)
        query = query.where(tuple_(created_at, row_id) < tuple_(*start))
    return query.limit(limit) if limit is not None else query
