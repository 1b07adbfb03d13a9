"""Deleting in bounded batches, for the purges."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, ColumnElement, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection


async def delete_some(
    connection: AsyncConnection, key: Column[Any], lapsed: ColumnElement[bool], limit: int
) -> int:
    """Delete at most ``limit`` rows matching ``lapsed``; how many went.

    A bounded batch keeps each transaction short: one purge of millions of rows would
    hold SQLite's only writer, or PostgreSQL's row locks, until it ended.
    """
    batch = select(key).where(lapsed).limit(limit).scalar_subquery()
    result = await connection.execute(delete(key.table).where(key.in_(batch)))
    return result.rowcount
