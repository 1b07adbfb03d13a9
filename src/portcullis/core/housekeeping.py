"""Housekeeping: deleting what has lapsed, a bounded batch per transaction.

Expired and idle sessions, expired one-time keys and access tokens, and audit events
older than the retention. At a portal's scale a purge meets millions of rows; deleting
them in one transaction would hold SQLite's only writer (every sign-in waits) or
PostgreSQL's locks for as long. So each batch is its own short transaction, and the
event loop serves requests between batches.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from portcullis.core.access_tokens import AccessTokens
from portcullis.core.accounts import Accounts
from portcullis.core.audit import AuditTrail
from portcullis.core.ports import Clock
from portcullis.core.sessions import Sessions

BATCH = 5000  # rows a transaction at most
FIRST_BATCH = 500
LEAST_BATCH = 50
# What one batch's transaction should take. At a portal's scale a row costs what its
# indexes cost: a session has five, spread over gigabytes, and 5,000 of them took SQLite
# 1.3-1.7 s to delete (seven million sessions: page reads, and the WAL's checkpoints),
# every sign-in waiting meanwhile for the only writer. So the batch is sized by time,
# not rows: each is resized towards this from what the last one took.
BATCH_SECONDS = 0.05

Purge = Callable[[int], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class Purged:
    sessions: int
    keys: int
    tokens: int
    audit_events: int

    def summary(self) -> str:
        return (
            f"purged {self.sessions} sessions, {self.keys} one-time keys, {self.tokens} access"
            f" tokens and {self.audit_events} audit events"
        )


class Housekeeping:
    def __init__(
        self,
        sessions: Sessions,
        accounts: Accounts,
        tokens: AccessTokens,
        audit: AuditTrail,
        clock: Clock,
        audit_retention: timedelta | None,
        batch: int = BATCH,
    ):
        self._sessions = sessions
        self._accounts = accounts
        self._tokens = tokens
        self._audit = audit
        self._clock = clock
        self._audit_retention = audit_retention  # None: keep the trail for ever
        self._batch = batch

    async def purge(self) -> Purged:
        """Delete everything lapsed now, batch by batch; how many of each went."""
        return Purged(
            sessions=await self._in_batches(self._sessions.purge_expired),
            keys=await self._in_batches(self._accounts.purge_expired_keys),
            tokens=await self._in_batches(self._tokens.purge_expired),
            audit_events=await self._in_batches(self._old_audit_events),
        )

    async def _old_audit_events(self, limit: int) -> int:
        if self._audit_retention is None:
            return 0
        return await self._audit.purge_before(self._clock.now() - self._audit_retention, limit)

    async def _in_batches(self, purge: Purge) -> int:
        total = 0
        size = min(FIRST_BATCH, self._batch)
        while True:
            began = time.monotonic()
            deleted = await purge(size)
            took = time.monotonic() - began
            total += deleted
            if deleted < size:
                return total
            size = next_batch(size, took, self._batch)
            # Then rest as long as it worked: a purge is housekeeping, and takes at most
            # half of the writer (and of a core) from the requests it runs beside.
            await asyncio.sleep(took)


def next_batch(size: int, took: float, most: int) -> int:
    """The next batch's rows: this one's scaled towards BATCH_SECONDS, by at most half
    or double at a time (one slow batch, a checkpoint say, does not shrink it to nothing),
    within LEAST_BATCH and ``most``."""
    aimed = size * BATCH_SECONDS / max(took, 1e-6)
    return max(min(LEAST_BATCH, most), min(most, round(min(2 * size, max(size / 2, aimed)))))
