"""The token check's connection set, against the real PostgreSQL server."""

from __future__ import annotations

import asyncio

import pytest

from portcullis.storage.pg_connections import ConnectionSet
from tests.conftest import POSTGRES_URL, _postgres_unreachable

pytestmark = pytest.mark.postgres
DSN = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")


@pytest.fixture(autouse=True)
def _postgres() -> None:
    reason = _postgres_unreachable()
    if reason:
        pytest.skip(reason)


def test_many_concurrent_reads_share_few_connections() -> None:
    async def run() -> tuple[list[int], int]:
        connections = ConnectionSet(DSN, 3)
        try:
            rows = await asyncio.gather(
                *[
                    connections.fetchrow("SELECT $1::int AS n, pg_backend_pid()", n)
                    for n in range(60)
                ]
            )
            return [row[0] for row in rows], len({row[1] for row in rows})
        finally:
            await connections.close()

    values, backends = asyncio.run(run())
    assert values == list(range(60))
    assert 1 <= backends <= 3


def test_cancelled_waiters_and_failed_statements_lose_no_connection() -> None:
    async def run() -> int:
        connections = ConnectionSet(DSN, 1)
        try:
            slow = asyncio.create_task(connections.fetchrow("SELECT pg_sleep(0.2)"))
            await asyncio.sleep(0.05)
            waiting = asyncio.create_task(connections.fetchrow("SELECT 1"))
            await asyncio.sleep(0.01)
            waiting.cancel()  # cancelled while waiting for the only connection
            await slow
            with pytest.raises(Exception, match="division by zero"):
                await connections.fetchrow("SELECT 1/0")  # the connection is dropped...
            # ...and the set opens another: the one slot was not lost either time.
            row = await asyncio.wait_for(connections.fetchrow("SELECT 42"), 5)
            return int(row[0])
        finally:
            await connections.close()

    assert asyncio.run(run()) == 42
