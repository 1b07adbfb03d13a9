"""Per-account lockout with exponential backoff, for known and unknown names alike."""

from __future__ import annotations

from dataclasses import dataclass

from portcullis.core.errors import TooManyAttempts
from portcullis.core.ports import Counters

DAY_SECONDS = 24 * 3600


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    threshold: int = 5  # consecutive failures before the first hold
    base_seconds: int = 60  # the first hold; each further failure doubles it
    max_seconds: int = 3600
    daily_failures: int = 100  # NIST SP 800-63B: never more than 100 failures an account


class Lockout:
    """Holds back sign-ins to one subject after repeated failures.

    A subject is ``account:<id>`` for a known account and ``name:<login>`` for a name
    that matches none, so the two are held back by the same rule and the answer cannot
    tell them apart. The counters live in a shared store so every instance and both
    dialects spend one budget.
    """

    def __init__(self, counters: Counters, policy: LockoutPolicy):
        self._counters = counters
        self._policy = policy

    @staticmethod
    def subject(account_id: int | None, login: str) -> str:
        return f"account:{account_id}" if account_id is not None else f"name:{login.lower()}"

    async def check(self, subject: str) -> None:
        """Raises TooManyAttempts while ``subject`` is held back, Unavailable if unknowable."""
        hold_key, day_key = f"lockout:hold:{subject}", f"lockout:day:{subject}"
        # Every sign-in reads both, so in one round trip; the expiry only when held back.
        hold, failures = await self._counters.values(hold_key, day_key)
        if hold > 0:
            held = await self._counters.seconds_left(hold_key)
            if held > 0:
                raise TooManyAttempts(held)
        if failures >= self._policy.daily_failures:
            raise TooManyAttempts(await self._counters.seconds_left(day_key))

    async def failed(self, subject: str) -> int | None:
        """Count a failure; the hold it starts in seconds, or None if it starts none.

        The failure that spends the day's budget starts a hold until the day is over.
        """
        day_key = f"lockout:day:{subject}"
        failures = await self._counters.incr(day_key, DAY_SECONDS)
        # The streak outlives any hold, so the next failure after a hold doubles it.
        streak = await self._counters.incr(f"lockout:streak:{subject}", DAY_SECONDS)
        hold = None
        beyond = streak - self._policy.threshold
        if beyond >= 0:
            # Cap the exponent before raising 2 to it: a streak can reach 100.
            hold = min(self._policy.max_seconds, self._policy.base_seconds << min(beyond, 32))
            hold_key = f"lockout:hold:{subject}"
            await self._counters.clear(hold_key)
            await self._counters.incr(hold_key, hold)
        if failures >= self._policy.daily_failures:
            return max(hold or 0, await self._counters.seconds_left(day_key))
        return hold

    async def succeeded(self, subject: str) -> None:
        """A right password outside any hold: the streak starts over.

        The daily count stays: it is a hard budget, not a streak.
        """
        await self._counters.clear(f"lockout:streak:{subject}", f"lockout:hold:{subject}")
