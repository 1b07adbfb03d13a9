"""The lockout's counts in this process's memory."""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from portcullis.core.lockout import DAY_SECONDS, LockoutPolicy
from portcullis.core.models import Admission


@dataclass(slots=True)
class _Counts:
    """One subject's counts; each lapses at its own (monotonic) time."""

    day: int = 0
    day_ends: float = 0.0
    streak: int = 0
    streak_ends: float = 0.0
    hold_ends: float = 0.0

    def lapse(self, now: float) -> None:
        if self.day_ends <= now:
            self.day = 0
        if self.streak_ends <= now:
            self.streak = 0

    @property
    def ends(self) -> float:
        return max(self.day_ends, self.streak_ends, self.hold_ends)


def _seconds(span: float) -> int:
    return max(1, math.ceil(span))


class MemoryAttempts:
    """The Attempts port in memory, for one process (or serve's, for all its workers).

    Each step runs under a lock and awaits nothing: on the event loop no other request
    runs in between, and the lock (never contended there) guards it against the threads
    that serve the workers' frames in serve's process. Counts are forgotten once lapsed,
    oldest first, so a day of unknown names costs memory for that day only.
    """

    def __init__(self, policy: LockoutPolicy, clock: Callable[[], float] = time.monotonic):
        self._policy = policy
        self._clock = clock
        self._counts: dict[str, _Counts] = {}
        self._lapsing: list[tuple[float, str]] = []  # a heap: (when, subject)
        self._lock = threading.Lock()

    async def admit(self, subject: str) -> Admission:
        return self.admit_now(subject)

    async def succeeded(self, subject: str) -> None:
        self.succeeded_now(subject)

    def admit_now(self, subject: str) -> Admission:
        with self._lock:
            now = self._clock()
            self._forget_lapsed(now)
            counts = self._counts.setdefault(subject, _Counts())
            counts.lapse(now)
            if counts.hold_ends > now:
                return Admission(retry_after=_seconds(counts.hold_ends - now))
            if counts.day >= self._policy.daily_failures:
                return Admission(retry_after=_seconds(counts.day_ends - now))
            lapsed_at = counts.ends
            hold = self._count(counts, now)
            if counts.ends > lapsed_at:  # to be forgotten later: remember when
                heapq.heappush(self._lapsing, (counts.ends, subject))
            return Admission(hold=hold)

    def _count(self, counts: _Counts, now: float) -> int:
        """Count one failure; the hold it starts (0 for none), already in place."""
        if counts.day == 0:
            counts.day_ends = now + DAY_SECONDS
        counts.day += 1
        if counts.streak == 0:
            counts.streak_ends = now + DAY_SECONDS
        counts.streak += 1
        hold = self._policy.hold_after(counts.streak)
        if counts.day >= self._policy.daily_failures:
            # The failure that spends the day's budget holds the subject until the day ends.
            hold = max(hold, _seconds(counts.day_ends - now))
        if hold:
            counts.hold_ends = now + hold
        return hold

    def succeeded_now(self, subject: str) -> None:
        with self._lock:
            counts = self._counts.get(subject)
            if counts is None:
                return
            counts.lapse(self._clock())
            counts.streak = 0
            counts.hold_ends = 0.0
            counts.day = max(0, counts.day - 1)

    def _forget_lapsed(self, now: float) -> None:
        while self._lapsing and self._lapsing[0][0] <= now:
            _, subject = heapq.heappop(self._lapsing)
            counts = self._counts.get(subject)
            if counts is not None and counts.ends <= now:
                del self._counts[subject]

    def __len__(self) -> int:
        """How many subjects are remembered."""
        return len(self._counts)
