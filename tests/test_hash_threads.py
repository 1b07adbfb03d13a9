"""The hashing threads: in order, in runs through the gate, and never a hung caller."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from portcullis.core.passwords import HASHING_NICENESS, HASHING_THREAD_NAME, HashThreads


class CountingGate:
    """A gate that records how often it was entered and how many were inside at once."""

    def __init__(self, fail: bool = False):
        self.entries = 0
        self.inside = 0
        self.most_inside = 0
        self._fail = fail
        self._lock = threading.Lock()

    @contextmanager
    def held(self) -> Iterator[None]:
        if self._fail:
            raise OSError("no slot files")
        with self._lock:
            self.entries += 1
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        try:
            yield
        finally:
            with self._lock:
                self.inside -= 1


def test_jobs_run_in_order_in_runs_through_the_gate() -> None:
    gate = CountingGate()
    release = threading.Event()
    ran: list[int] = []

    async def run() -> tuple[list[int], int]:
        threads = HashThreads(1, gate.held, run_length=3)
        try:
            blocker = asyncio.ensure_future(threads.run(release.wait))
            await asyncio.sleep(0.05)  # the only thread is busy: the rest queue up
            jobs = [asyncio.ensure_future(threads.run(ran.append, n)) for n in range(7)]
            await asyncio.sleep(0.05)
            release.set()
            await blocker
            await asyncio.gather(*jobs)
            return ran, gate.entries
        finally:
            threads.close()

    ran, entries = asyncio.run(run())
    assert ran == list(range(7))
    # The blocker and two queued jobs in the first run, then 3, then the last 2.
    assert entries == 3
    assert gate.most_inside == 1


def test_two_threads_hash_at_once_and_never_more() -> None:
    gate = CountingGate()
    both_inside = threading.Barrier(2, timeout=5)

    async def run() -> None:
        threads = HashThreads(2, gate.held)
        try:
            await asyncio.gather(*(threads.run(both_inside.wait) for _ in range(2)))
            await asyncio.gather(*(threads.run(lambda: None) for _ in range(10)))
        finally:
            threads.close()

    asyncio.run(run())
    assert gate.most_inside == 2


def test_a_failing_job_raises_in_its_caller_and_the_thread_goes_on() -> None:
    async def run() -> int:
        threads = HashThreads(1)
        try:
            with pytest.raises(ZeroDivisionError):
                await threads.run(lambda: 1 // 0)
            return await threads.run(lambda: 42)
        finally:
            threads.close()

    assert asyncio.run(run()) == 42


def test_a_failing_gate_fails_the_job_instead_of_hanging_it() -> None:
    async def run() -> None:
        threads = HashThreads(1, CountingGate(fail=True).held)
        try:
            for _ in range(2):  # and the thread survives to answer the next one
                with pytest.raises(OSError, match="no slot files"):
                    await asyncio.wait_for(threads.run(lambda: 42), 5)
        finally:
            threads.close()

    asyncio.run(run())


def test_a_job_whose_caller_went_away_is_not_run() -> None:
    release = threading.Event()
    ran: list[str] = []

    async def run() -> None:
        threads = HashThreads(1)
        try:
            blocker = asyncio.ensure_future(threads.run(release.wait))
            await asyncio.sleep(0.05)
            abandoned = asyncio.ensure_future(threads.run(ran.append, "abandoned"))
            await asyncio.sleep(0.05)
            abandoned.cancel()  # a client that disconnected while its login queued
            release.set()
            await blocker
            await threads.run(ran.append, "next")
        finally:
            threads.close()

    asyncio.run(run())
    assert ran == ["next"]


@pytest.mark.skipif(sys.platform != "linux", reason="thread names and nice values are Linux's")
def test_hashing_threads_carry_their_name_and_niceness_in_the_os() -> None:
    def where_am_i() -> tuple[str, int]:
        native_id = threading.get_native_id()
        with open(f"/proc/self/task/{native_id}/comm") as comm:
            name = comm.read().strip()
        return name, os.getpriority(os.PRIO_PROCESS, native_id)

    async def run() -> tuple[str, int]:
        threads = HashThreads(1)
        try:
            return await threads.run(where_am_i)
        finally:
            threads.close()

    name, niceness = asyncio.run(run())
    assert name == HASHING_THREAD_NAME
    # Nice values only go up without privilege, so this holds for any starting niceness.
    assert niceness >= HASHING_NICENESS
