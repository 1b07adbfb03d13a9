"""The lockout's stores: each admission one atomic step, however many arrive at once.

Run against the real things: this process's memory on the event loop, the test Redis,
and serve's process as its workers reach it, over a real Unix socket.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from portcullis.attempts.memory import MemoryAttempts
from portcullis.attempts.redis_store import RedisAttempts
from portcullis.attempts.remote import RemoteAttempts, served_by
from portcullis.config import Settings
from portcullis.core.lockout import DAY_SECONDS, LockoutPolicy
from portcullis.core.models import Admission
from portcullis.core.passwords import HashThreads
from portcullis.core.ports import Attempts
from portcullis.hash_service import HashService, RemoteHashing
from portcullis.throttling import LimitsStore
from tests.test_hash_service import ClosedGate, RecordingHashing

HOLDING = LockoutPolicy(threshold=5, base_seconds=600, max_seconds=3600, daily_failures=100)
CAPPED = LockoutPolicy(threshold=1000, base_seconds=600, max_seconds=3600, daily_failures=10)


async def at_once(attempts: Attempts, subject: str, count: int) -> list[Admission]:
    return list(await asyncio.gather(*[attempts.admit(subject) for _ in range(count)]))


def admitted(admissions: list[Admission]) -> list[Admission]:
    return [a for a in admissions if a.admitted]


class Rules:
    """What every store must do; each subclass runs it on one store."""

    def make(self, policy: LockoutPolicy) -> Attempts:
        raise NotImplementedError

    def test_no_more_than_the_threshold_are_admitted_at_once(self) -> None:
        attempts = self.make(HOLDING)
        answers = asyncio.run(at_once(attempts, "account:1", 200))
        assert len(admitted(answers)) == 5
        # The fifth started the hold, before any hash said the password was wrong.
        assert sorted(a.hold for a in admitted(answers)) == [0, 0, 0, 0, 600]
        assert all(0 < a.retry_after <= 600 for a in answers if not a.admitted)

    def test_no_more_than_the_day_allows_at_once(self) -> None:
        attempts = self.make(CAPPED)
        answers = asyncio.run(at_once(attempts, "name:0123", 150))
        assert len(admitted(answers)) == 10
        [capping] = [a for a in answers if a.hold]
        assert DAY_SECONDS - 60 < capping.hold <= DAY_SECONDS
        assert all(a.retry_after > 3600 for a in answers if not a.admitted)

    def test_a_right_password_gives_back_its_count_and_ends_the_streak(self) -> None:
        attempts = self.make(
            LockoutPolicy(threshold=3, base_seconds=600, max_seconds=600, daily_failures=5)
        )

        async def run() -> list[Admission]:
            await at_once(attempts, "account:2", 2)  # two wrong
            await attempts.admit("account:2")  # the third: right, but it starts the hold
            await attempts.succeeded("account:2")  # ... which its success ends
            # A fresh streak; the day holds 2 of 5, so three more are admitted at once.
            return await at_once(attempts, "account:2", 10)

        answers = asyncio.run(run())
        assert len(admitted(answers)) == 3
        [capping] = [a for a in answers if a.hold]
        assert capping.hold > 600  # the day's fifth failure: held until the day ends

    def test_subjects_are_counted_apart(self) -> None:
        attempts = self.make(HOLDING)

        async def run() -> list[list[Admission]]:
            return list(
                await asyncio.gather(*[at_once(attempts, f"account:{n}", 8) for n in range(5)])
            )

        assert [len(admitted(answers)) for answers in asyncio.run(run())] == [5] * 5


class TestMemory(Rules):
    def make(self, policy: LockoutPolicy) -> Attempts:
        return MemoryAttempts(policy)

    def test_lapsed_counts_are_forgotten(self) -> None:
        now = [1000.0]
        attempts = MemoryAttempts(HOLDING, clock=lambda: now[0])
        for n in range(300):
            attempts.admit_now(f"name:{n:032x}")
        assert len(attempts) == 300
        now[0] += DAY_SECONDS + 1
        assert attempts.admit_now("account:1").admitted
        assert len(attempts) == 1


@pytest.mark.redis
class TestRedis(Rules):
    """On the service's own Redis connections (``LimitsStore``), as the workers use them."""

    @pytest.fixture(autouse=True)
    def _redis(self, redis_settings: dict[str, str], tmp_path: Path) -> Iterator[None]:
        settings = Settings(_env_file=None, data_dir=tmp_path, **redis_settings)
        self._store = LimitsStore(settings)
        yield

    def make(self, policy: LockoutPolicy) -> Attempts:
        client = self._store.redis()
        assert client is not None
        return RedisAttempts(client, self._store.key_prefix, policy)


class TestServeProcess(Rules):
    """Two workers' connections to one serve process spend one budget."""

    def make(self, policy: LockoutPolicy) -> Attempts:
        service = HashService(RecordingHashing(HashThreads(2)), served_by(MemoryAttempts(policy)))
        self._services.append(service)
        return _TwoWorkers(str(service.path))

    @pytest.fixture(autouse=True)
    def _closing(self) -> Iterator[None]:
        self._services: list[HashService] = []
        yield
        for service in self._services:
            service.close()

    def test_admissions_never_wait_behind_hashes(self) -> None:
        gate = ClosedGate()
        service = HashService(
            RecordingHashing(HashThreads(1, gate.held)), served_by(MemoryAttempts(HOLDING))
        )
        try:

            async def run() -> Admission:
                worker = RemoteHashing(str(service.path))
                hashing = asyncio.ensure_future(worker.hash("held back by the closed gate"))
                try:
                    return await asyncio.wait_for(RemoteAttempts(worker).admit("account:1"), 10)
                finally:
                    gate.opened.set()
                    await hashing
                    worker.close()

            assert asyncio.run(run()).admitted
        finally:
            service.close()


class _TwoWorkers:
    """Attempts spread over two workers' connections, alternately."""

    def __init__(self, path: str):
        self._path = path
        self._workers: list[RemoteAttempts] | None = None
        self._turn = 0

    def _next(self) -> RemoteAttempts:
        if self._workers is None:  # made on the running loop
            self._workers = [RemoteAttempts(RemoteHashing(self._path)) for _ in range(2)]
        self._turn += 1
        return self._workers[self._turn % 2]

    async def admit(self, subject: str) -> Admission:
        return await self._next().admit(subject)

    async def succeeded(self, subject: str) -> None:
        await self._next().succeeded(subject)
