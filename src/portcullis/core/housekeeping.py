"""Housekeeping: deleting what has lapsed, a bounded batch per transaction.

Expired and idle sessions, expired one-time keys and access tokens, and audit events
older than the retention. At a portal's scale a purge meets millions of rows; deleting
them in one transaction would hold SQLite's only writer (every sign-in waits) or
PostgreSQL's locks for as long. So each batch is its own short transaction, and the
event loop serves requests between batches.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from portcullis.core.access_tokens import AccessTokens
from portcullis.core.accounts import Accounts
from portcullis.core.audit import AuditTrail
from portcullis.core.ports import Clock
from portcullis.core.sessions import Sessions

BATCH = 5000  # rows a transaction: a few milliseconds of deleting on either database

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
        while True:
            deleted = await purge(self._batch)
            total += deleted
            if deleted < self._batch:
                return total
            await asyncio.sleep(0)  # let the requests waiting meanwhile through
