"""Deleting in bounded batches, for the purges."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnClause,
    ColumnElement,
    Delete,
    Table,
    any_,
    delete,
    func,
    literal_column,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

# Where a row lies: PostgreSQL's tuple id, SQLite's rowid.
ROW_ADDRESS = {"postgresql": "ctid", "sqlite": "rowid"}


def batch_of(dialect: str, table: Table, lapsed: ColumnElement[bool], limit: int) -> Delete:
    """The DELETE of at most ``limit`` rows of ``table`` matching ``lapsed``.

    The rows are chosen and deleted by where they lie (PostgreSQL's tuple id, SQLite's
    rowid), not by their primary key, so no index is searched again for each row. By
    key, PostgreSQL looked every session of a batch up in the primary key's index after
    finding it: 3,000 of them at a portal's scale touched 14,813 buffers, 12,000 of
    them in that index (docs/performance.md). Under concurrent writes it is also the
    safer of the two: a row updated after the batch was chosen has moved, so it is left
    for the next batch to judge again.
    """
    address: ColumnClause[Any] = literal_column(ROW_ADDRESS[dialect])
    chosen = select(address).select_from(table).where(lapsed).limit(limit).scalar_subquery()
    if dialect == "postgresql":
        # As ARRAY(SELECT ...): ``ctid IN (subquery)`` was planned, on a table of 20,000
        # rows, as a hash join over a scan of the whole table; ``= ANY(array)`` is always
        # a TID scan.
        return delete(table).where(address == any_(func.array(chosen)))
    return delete(table).where(address.in_(chosen))


async def delete_some(
    connection: AsyncConnection, table: Table, lapsed: ColumnElement[bool], limit: int
) -> int:
    """Delete at most ``limit`` rows matching ``lapsed``; how many went.

    A bounded batch keeps each transaction short: one purge of millions of rows would
    hold SQLite's only writer, or PostgreSQL's row locks, until it ended.
    """
    statement = batch_of(connection.dialect.name, table, lapsed, limit)
    return (await connection.execute(statement)).rowcount
