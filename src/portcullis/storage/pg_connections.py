"""A fixed set of asyncpg connections for the hot path's single statements."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg


class ConnectionSet:
    """At most ``size`` connections, handed out one request at a time: a free list, no more.

    asyncpg's Pool costs as much client CPU per query as the query itself (measured on
    this machine kind: 74 against 37 microseconds per one-row SELECT), for what these
    reads never need: transactions, a reset on release, timeouts around each step. A
    connection that fails or is cancelled mid-statement is dropped, never reused.
    """

    def __init__(
        self,
        dsn: str,
        size: int,
        connect_timeout: float = 5,
        server_settings: dict[str, str] | None = None,
    ):
        self._dsn = dsn
        self._size = size
        self._server_settings = server_settings
        self._connect_timeout = connect_timeout
        self._idle: list[asyncpg.Connection] = []
        self._opened = 0
        # Each waiter gets a connection, or None: "a slot is free, open one yourself".
        self._waiters: deque[asyncio.Future[asyncpg.Connection | None]] = deque()

    async def fetchrow(self, query: str, *args: object) -> Any:
        return await self._on_a_connection(asyncpg.Connection.fetchrow, query, args)

    async def fetch(self, query: str, *args: object) -> list[Any]:
        rows: list[Any] = await self._on_a_connection(asyncpg.Connection.fetch, query, args)
        return rows

    async def _on_a_connection(
        self, method: Callable[..., Awaitable[Any]], query: str, args: tuple[object, ...]
    ) -> Any:
        connection = await self._take()
        try:
            result = await method(connection, query, *args)
        except BaseException:
            self._drop(connection)
            raise
        self._give_back(connection)
        return result

    def expire_idle(self) -> None:
        """Drop every idle connection: after one was lost, its siblings likely were too."""
        idle, self._idle = self._idle, []
        for connection in idle:
            self._drop(connection)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            self._opened -= 1
            await connection.close()

    async def _take(self) -> asyncpg.Connection:
        while True:
            if self._idle:
                return self._idle.pop()
            if self._opened < self._size:
                return await self._open()
            waiter: asyncio.Future[asyncpg.Connection | None] = (
                asyncio.get_running_loop().create_future()
            )
            self._waiters.append(waiter)
            try:
                connection = await waiter
            except asyncio.CancelledError:
                # Handed a connection just as we were cancelled: pass it on, don't lose it.
                if waiter.done() and not waiter.cancelled():
                    handed = waiter.result()
                    if handed is not None:
                        self._give_back(handed)
                    else:
                        self._wake_one(None)
                raise
            if connection is not None:
                return connection

    async def _open(self) -> asyncpg.Connection:
        self._opened += 1
        try:
            return await asyncpg.connect(
                self._dsn, timeout=self._connect_timeout, server_settings=self._server_settings
            )
        except BaseException:
            self._opened -= 1
            self._wake_one(None)
            raise

    def _give_back(self, connection: asyncpg.Connection) -> None:
        if not self._wake_one(connection):
            self._idle.append(connection)

    def _drop(self, connection: asyncpg.Connection) -> None:
        self._opened -= 1
        connection.terminate()
        self._wake_one(None)

    def _wake_one(self, handed: asyncpg.Connection | None) -> bool:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(handed)
                return True
        return False
