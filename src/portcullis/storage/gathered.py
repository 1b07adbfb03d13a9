"""Lookups that arrive together share one query: a round trip per batch, not per lookup."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)
Found = TypeVar("Found")


class GatheredLookups(Generic[Key, Found]):
    """Look keys up through ``fetch_many``, one call for every key waiting at the time.

    At most ``runners`` calls are in flight. A runner takes every key that is waiting
    (up to ``batch_limit``), asks for them all at once, answers each waiter, and goes on
    while keys are waiting; keys that arrive meanwhile wait for the next free runner. A
    lookup is still made after its caller asked, never answered from an earlier one.

    Why: on PostgreSQL each lookup in its own query cost a process wake-up and two
    socket writes on each side. With 32 token checks in flight on 2 cores, the server's
    backends spent 0.05-0.08 ms CPU per check and the workers 0.12-0.14 ms; gathered,
    0.01-0.03 and 0.08-0.12 ms (bench/'s setup, PostgreSQL on the same machine).
    """

    def __init__(
        self,
        fetch_many: Callable[[list[Key]], Awaitable[Mapping[Key, Found]]],
        runners: int = 2,
        batch_limit: int = 64,
    ):
        self._fetch_many = fetch_many
        self._runners = runners
        self._batch_limit = batch_limit
        self._waiting: list[tuple[Key, asyncio.Future[Found | None]]] = []
        self._running: set[asyncio.Task[None]] = set()
        # A runner is started but has not taken its first batch: lookups arriving in the
        # same pass of the event loop join that batch instead of starting another runner.
        self._starting = False
        self._closed = False

    async def find(self, key: Key) -> Found | None:
        if self._closed:
            raise RuntimeError("lookups closed")
        future: asyncio.Future[Found | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((key, future))
        self._start_runner()
        return await future

    def _start_runner(self) -> None:
        if self._starting or len(self._running) >= self._runners or self._closed:
            return
        self._starting = True
        task = asyncio.get_running_loop().create_task(self._run())
        self._running.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if self._waiting:  # arrived as this runner was leaving: never leave them waiting
            self._start_runner()

    async def _run(self) -> None:
        self._starting = False  # it takes its first batch now, in this step
        while self._waiting:
            batch = self._waiting[: self._batch_limit]
            del self._waiting[: self._batch_limit]
            try:
                found = await self._fetch_many([key for key, _ in batch])
            except asyncio.CancelledError:
                for _, future in batch:
                    future.cancel()
                raise
            except Exception as error:  # each waiter raises it, as its own query would
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for key, future in batch:
                if not future.done():  # its caller may have gone away meanwhile
                    future.set_result(found.get(key))

    async def close(self) -> None:
        """Cancel every runner and every waiting lookup."""
        self._closed = True
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
        waiting, self._waiting = self._waiting, []
        for _, future in waiting:
            future.cancel()
