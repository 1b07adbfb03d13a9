"""The outbox table as a queue: claim due mail, mark it sent or failed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.fernet import InvalidToken
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from portcullis.core.models import Notice
from portcullis.storage.sealing import Sealer
from portcullis.storage.stores import epoch
from portcullis.storage.tables import mail_outbox

BATCH = 20
FOREVER = 2**62  # a next attempt that never comes due


@dataclass(frozen=True, slots=True)
class QueuedMail:
    id: int
    notice: Notice
    attempts: int


@dataclass(frozen=True, slots=True)
class UnreadableMail:
    """Sealed under a server secret that has since changed: it can never be sent."""

    id: int


class SqlMailQueue:
    def __init__(self, engine: AsyncEngine, sealer: Sealer):
        self._engine = engine
        self._sealer = sealer

    async def claim_due(
        self, now: datetime, hold_seconds: int
    ) -> list[QueuedMail | UnreadableMail]:
        """Due, unsent mail, each claimed for ``hold_seconds`` so no other worker sends it too.

        The claim is a conditional UPDATE: of several workers or instances polling at
        once, exactly one sees its update match.
        """
        claimable = and_(
            mail_outbox.c.sent_at.is_(None),
            mail_outbox.c.next_attempt_at <= epoch(now),
            or_(mail_outbox.c.claimed_until.is_(None), mail_outbox.c.claimed_until < epoch(now)),
        )
        claimed: list[QueuedMail | UnreadableMail] = []
        async with self._engine.connect() as db:
            rows = (
                await db.execute(
                    select(mail_outbox).where(claimable).order_by(mail_outbox.c.id).limit(BATCH)
                )
            ).all()
            await db.commit()
            for row in rows:
                async with db.begin():
                    result = await db.execute(
                        update(mail_outbox)
                        .where(mail_outbox.c.id == row.id, claimable)
                        .values(claimed_until=epoch(now) + hold_seconds)
                    )
                if result.rowcount == 1:
                    claimed.append(self._queued(row))
        return claimed

    async def mark_sent(self, mail_id: int, at: datetime) -> None:
        # The payload may hold a one-time key: it is not kept once the mail is out.
        await self._update(mail_id, sent_at=epoch(at), payload=None, claimed_until=None)

    async def mark_failed(self, mail_id: int, error: str, retry_at: datetime) -> None:
        await self._update(
            mail_id,
            attempts=mail_outbox.c.attempts + 1,
            last_error=error[:2000],
            next_attempt_at=epoch(retry_at),
            claimed_until=None,
        )

    async def give_up(self, mail_id: int, reason: str, at: datetime) -> None:
        """Stop trying: the mail stays in the table with the reason, and is never sent."""
        await self._update(
            mail_id, payload=None, last_error=reason, claimed_until=None, next_attempt_at=FOREVER
        )

    async def _update(self, mail_id: int, **values: Any) -> None:
        async with self._engine.begin() as db:
            await db.execute(update(mail_outbox).where(mail_outbox.c.id == mail_id).values(values))

    def _queued(self, row: Any) -> QueuedMail | UnreadableMail:
        try:
            values = self._sealer.open(row.payload) if row.payload else {}
        except InvalidToken:
            return UnreadableMail(row.id)
        return QueuedMail(
            id=row.id,
            notice=Notice(kind=row.kind, to=row.recipient, values=values),
            attempts=row.attempts,
        )

    async def backlog(self, now: datetime) -> tuple[int, float]:
        """How many unsent mails will still be tried, and for how long the oldest due one
        has been due (0 when none is): what the outbox's gauges show."""
        waiting = and_(mail_outbox.c.sent_at.is_(None), mail_outbox.c.next_attempt_at < FOREVER)
        async with self._engine.connect() as db:
            row = (
                await db.execute(
                    select(func.count(), func.min(mail_outbox.c.next_attempt_at)).where(waiting)
                )
            ).one()
        depth, earliest = row
        overdue = max(0, epoch(now) - earliest) if earliest is not None else 0
        return int(depth), float(overdue)
