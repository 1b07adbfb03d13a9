"""Per-account lockout with exponential backoff, for known and unknown names alike."""

from __future__ import annotations

from dataclasses import dataclass

from portcullis.core.errors import TooManyAttempts
from portcullis.core.ports import Attempts
from portcullis.core.tokens import Hasher
from portcullis.core.validation import canonical_login

DAY_SECONDS = 24 * 3600
# 2 to a larger power is never needed: base << 32 outgrows any max_seconds one would set.
MAX_DOUBLINGS = 32


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    threshold: int = 5  # consecutive failures before the first hold
    base_seconds: int = 60  # the first hold; each further failure doubles it
    max_seconds: int = 3600
    daily_failures: int = 100  # NIST SP 800-63B: never more than 100 failures an account

    def hold_after(self, streak: int) -> int:
        """The hold a streak of ``streak`` failures starts, in seconds; 0 for none."""
        beyond = streak - self.threshold
        if beyond < 0:
            return 0
        return min(self.max_seconds, self.base_seconds << min(beyond, MAX_DOUBLINGS))


class Lockout:
    """Holds back password checks of one subject after repeated failures.

    A subject is ``account:<id>`` for a known account and ``name:<keyed hash>`` for a
    name that matches none, so the two are held back by the same rule and the answer
    cannot tell them apart, and an unknown name costs the same few bytes however long
    it was (and is never kept as typed: it may be a password pasted in the wrong field).

    Each check is counted as a failure *before* the password is hashed, in one atomic
    step of the shared store (``Attempts``): counting after the hash let every guess
    that arrived before the fifth failure was written be checked. A right password then
    takes its count back.
    """

    def __init__(self, attempts: Attempts, names: Hasher):
        self._attempts = attempts
        self._names = names

    def subject(self, account_id: int | None, login: str) -> str:
        if account_id is not None:
            return f"account:{account_id}"
        # The form accounts are looked up by, so that no spelling of a name (ALICE,
        # Alice) has a budget of its own that would tell whether the name exists.
        return f"name:{self._names.name_hash(canonical_login(login))}"

    async def admit(self, subject: str) -> int:
        """Count one check of ``subject``'s password, before it is hashed.

        Returns the hold (in seconds) that this check started, 0 if none: it stands
        unless ``succeeded`` follows. Raises TooManyAttempts while ``subject`` is held
        back (nothing is counted then), Unavailable if the counts cannot be reached.
        """
        admission = await self._attempts.admit(subject)
        if not admission.admitted:
            raise TooManyAttempts(admission.retry_after)
        return admission.hold

    async def succeeded(self, subject: str) -> None:
        """The admitted password was right: the streak starts over, any hold ends."""
        await self._attempts.succeeded(subject)
