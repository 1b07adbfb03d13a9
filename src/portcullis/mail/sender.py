"""Delivers the outbox: polls for due mail, sends it, retries with backoff."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from portcullis.core.ports import Clock
from portcullis.mail.compose import Composer, UnsendableAddress
from portcullis.mail.transports import Transport
from portcullis.observability.meters import Backlog, Meters, fields
from portcullis.storage.mail_queue import SqlMailQueue, UnreadableMail

log = logging.getLogger("portcullis.mail")

# A claim outlives any single SMTP conversation (aiosmtplib's timeout is 30 s).
CLAIM_SECONDS = 120


class OutboxSender:
    def __init__(
        self,
        queue: SqlMailQueue,
        composer: Composer,
        transport: Transport,
        clock: Clock,
        poll_seconds: float,
        max_backoff_seconds: int,
        meters: Meters | None = None,
    ):
        self._meters = meters or Meters()
        self._queue = queue
        self._composer = composer
        self._transport = transport
        self._clock = clock
        self._poll = poll_seconds
        self._max_backoff = max_backoff_seconds

    async def run(self) -> None:
        failing = False
        while True:
            try:
                await self.deliver_due()
            except Exception as error:  # the database may be away; the loop must outlive it
                self._meters.backing_error("database")
                # The whole story once, then a line a poll: an outage must not flood the log.
                if failing:
                    log.warning("the mail outbox is still unreadable: %s", type(error).__name__)
                else:
                    log.exception("could not read the mail outbox; will retry")
                failing = True
            else:
                if failing:
                    log.warning("the mail outbox is readable again")
                failing = False
            await asyncio.sleep(self._poll)

    async def deliver_due(self) -> int:
        """Send every due mail once; returns how many went out."""
        sent = 0
        for mail in await self._queue.claim_due(self._clock.now(), CLAIM_SECONDS):
            if isinstance(mail, UnreadableMail):
                log.error("mail %s was sealed under another server secret; dropping it", mail.id)
                self._meters.mail_delivered("dropped")
                await self._queue.give_up(mail.id, "sealed under another secret", self._clock.now())
                continue
            try:
                message = self._composer.compose(mail.notice)
            except UnsendableAddress:
                log.error("mail %s is not to one plain address; dropping it", mail.id)
                self._meters.mail_delivered("dropped")
                await self._queue.give_up(mail.id, "not one plain address", self._clock.now())
                continue
            try:
                await self._transport.send(message, mail.notice.to)
            except Exception as error:  # any transport failure means: try again later
                delay = min(2 ** (mail.attempts + 1), self._max_backoff)
                log.warning(
                    "mail %s failed (%s); retry in %ss",
                    mail.id,
                    type(error).__name__,
                    delay,
                    extra=fields(event="mail_retried", mail_id=mail.id, retry_in_seconds=delay),
                )
                self._meters.mail_delivered("retried")
                retry_at = self._clock.now() + timedelta(seconds=delay)
                await self._queue.mark_failed(mail.id, repr(error), retry_at)
            else:
                await self._queue.mark_sent(mail.id, self._clock.now())
                log.info(
                    "mail %s sent",
                    mail.id,
                    extra=fields(event="mail_sent", mail_id=mail.id, kind=mail.notice.kind),
                )
                self._meters.mail_delivered("sent")
                sent += 1
        return sent

    async def backlog(self) -> Backlog:
        """The outbox's depth and the age of its oldest due mail, for the scrape."""
        return Backlog(*await self._queue.backlog(self._clock.now()))
