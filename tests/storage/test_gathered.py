"""Gathered lookups: who shares a query, how many run at once, and what a failure reaches."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

import pytest

from portcullis.storage.gathered import GatheredLookups

T = TypeVar("T")


class Table:
    """A fetch_many over a dict that records each call and can hold calls until released."""

    def __init__(self, rows: Mapping[str, int]):
        self.rows = rows
        self.calls: list[list[str]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.release = asyncio.Event()
        self.release.set()
        self.failures: list[Exception] = []

    async def fetch_many(self, keys: list[str]) -> dict[str, int]:
        self.calls.append(keys)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.release.wait()
            if self.failures:
                raise self.failures.pop(0)
            return {key: self.rows[key] for key in keys if key in self.rows}
        finally:
            self.in_flight -= 1


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(scenario())


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_lookups_made_together_share_one_call_and_each_gets_its_own_answer() -> None:
    async def scenario() -> tuple[list[int | None], list[list[str]]]:
        table = Table({"a": 1, "b": 2, "c": 3})
        lookups = GatheredLookups(table.fetch_many)
        found = await asyncio.gather(*(lookups.find(key) for key in ["a", "x", "c", "b", "a"]))
        return found, table.calls

    found, calls = run(scenario)
    assert found == [1, None, 3, 2, 1]
    assert calls == [["a", "x", "c", "b", "a"]]


def test_no_more_calls_at_once_than_runners_and_late_lookups_go_together() -> None:
    async def scenario() -> tuple[Table, list[int | None]]:
        table = Table({str(n): n for n in range(20)})
        table.release.clear()
        lookups = GatheredLookups(table.fetch_many, runners=2)
        first = [asyncio.ensure_future(lookups.find(str(n))) for n in range(3)]
        await settle()
        second = [asyncio.ensure_future(lookups.find(str(n))) for n in range(3, 6)]
        await settle()
        # Both runners are busy now: these wait, and then go in one call.
        third = [asyncio.ensure_future(lookups.find(str(n))) for n in range(6, 12)]
        await settle()
        assert table.in_flight == 2
        table.release.set()
        found = await asyncio.gather(*first, *second, *third)
        return table, found

    table, found = run(scenario)
    assert found == list(range(12))
    assert table.most_in_flight == 2
    assert table.calls == [["0", "1", "2"], ["3", "4", "5"], [str(n) for n in range(6, 12)]]


def test_a_call_takes_no_more_than_the_batch_limit() -> None:
    async def scenario() -> tuple[list[int | None], list[list[str]]]:
        table = Table({str(n): n for n in range(10)})
        lookups = GatheredLookups(table.fetch_many, runners=1, batch_limit=4)
        found = await asyncio.gather(*(lookups.find(str(n)) for n in range(10)))
        return found, table.calls

    found, calls = run(scenario)
    assert found == list(range(10))
    assert [len(keys) for keys in calls] == [4, 4, 2]


def test_a_failing_call_fails_its_own_lookups_only() -> None:
    async def scenario() -> tuple[list[object], list[int | None]]:
        table = Table({"a": 1, "b": 2})
        table.release.clear()
        table.failures.append(ConnectionResetError("gone"))
        lookups = GatheredLookups(table.fetch_many, runners=1)
        failing = [asyncio.ensure_future(lookups.find(key)) for key in ["a", "b"]]
        await settle()
        served = [asyncio.ensure_future(lookups.find(key)) for key in ["b", "a"]]
        await settle()
        table.release.set()
        outcomes = await asyncio.gather(*failing, return_exceptions=True)
        return outcomes, await asyncio.gather(*served)

    outcomes, served = run(scenario)
    assert all(isinstance(outcome, ConnectionResetError) for outcome in outcomes)
    assert served == [2, 1]


def test_a_caller_that_went_away_does_not_disturb_the_others() -> None:
    async def scenario() -> tuple[bool, list[int | None]]:
        table = Table({"a": 1, "b": 2})
        table.release.clear()
        lookups = GatheredLookups(table.fetch_many)
        leaving = asyncio.ensure_future(lookups.find("a"))
        staying = asyncio.ensure_future(lookups.find("b"))
        await settle()
        leaving.cancel()
        table.release.set()
        found = [await staying, await lookups.find("a")]
        return leaving.cancelled(), found

    left, found = run(scenario)
    assert left
    assert found == [2, 1]


def test_close_cancels_waiting_lookups_and_refuses_new_ones() -> None:
    async def scenario() -> tuple[list[bool], int]:
        table = Table({"a": 1})
        table.release.clear()
        lookups = GatheredLookups(table.fetch_many, runners=1)
        waiting = [asyncio.ensure_future(lookups.find(key)) for key in ["a", "a"]]
        await settle()
        later = asyncio.ensure_future(lookups.find("a"))  # queued behind the busy runner
        await settle()
        await lookups.close()
        await asyncio.gather(*waiting, later, return_exceptions=True)
        with pytest.raises(RuntimeError):
            await lookups.find("a")
        return [task.cancelled() for task in [*waiting, later]], len(table.calls)

    cancelled, calls = run(scenario)
    assert cancelled == [True, True, True]
    assert calls == 1


def test_a_lookup_made_as_the_last_runner_leaves_is_still_served() -> None:
    async def scenario() -> tuple[int | None, int | None]:
        table = Table({"a": 1, "b": 2})
        lookups = GatheredLookups(table.fetch_many, runners=1)

        async def one_after_another() -> tuple[int | None, int | None]:
            # The runner answers "a" and leaves in one step; "b" is asked for before it
            # is off the books, when no new runner may start yet.
            return await lookups.find("a"), await lookups.find("b")

        return await asyncio.wait_for(one_after_another(), timeout=5)

    assert run(scenario) == (1, 2)
