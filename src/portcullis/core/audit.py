"""The audit trail: who did what, from where. Append-only; never a password, token or key."""

from __future__ import annotations

from datetime import datetime

from portcullis.core.errors import NotAllowed, NotFound
from portcullis.core.models import Account, AuditEvent, AuditKind, Client
from portcullis.core.paging import DEFAULT_LIMIT, Page, bounded, page_of, row_id_of
from portcullis.core.ports import Clock, UnitOfWork, UnitOfWorkFactory
from portcullis.core.validation import normalise_email

SUBJECT_LENGTH = 254
USER_AGENT_LENGTH = 512
DETAIL_LENGTH = 255


class AuditTrail:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock):
        self._uow = uow
        self._clock = clock

    def event(
        self,
        kind: AuditKind,
        client: Client | None = None,
        *,
        account: Account | None = None,
        account_id: int | None = None,
        subject: str | None = None,
        detail: str | None = None,
        actor: Account | None = None,
    ) -> AuditEvent:
        client = client or Client()
        return AuditEvent(
            kind=kind,
            at=self._clock.now(),
            account_id=account.id if account else account_id,
            # Attacker-chosen text (a login, a user agent): kept, but never longer than
            # its column.
            subject=_cut(
                subject if subject is not None else account.email if account else None,
                SUBJECT_LENGTH,
            ),
            detail=_cut(detail, DETAIL_LENGTH),
            actor_id=actor.id if actor else None,
            client_address=client.address,
            user_agent=(client.user_agent or "")[:USER_AGENT_LENGTH] or None,
        )

    async def write(self, uow: UnitOfWork, event: AuditEvent) -> None:
        """Record ``event`` in the caller's transaction: it stands or falls with the change."""
        await uow.audit.add(event)

    async def purge_before(self, cutoff: datetime, limit: int) -> int:
        """Delete at most ``limit`` events from before ``cutoff``; how many went."""
        async with self._uow() as uow:
            return await uow.audit.purge_before(cutoff, limit)

    async def record(self, event: AuditEvent) -> None:
        """Record ``event`` in a transaction of its own (for things that changed nothing)."""
        async with self._uow() as uow:
            await self.write(uow, event)

    async def read(
        self,
        caller: Account | None,
        email: str | None = None,
        since: datetime | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[AuditEvent]:
        """A page of the newest events, of one account if ``email`` is given, newest
        first, from ``cursor`` (the previous page's ``next``) if given.

        ``caller`` None is the operator's CLI. Raises NotAllowed for non-superusers,
        NotFound for an unknown e-mail, InvalidInput for a cursor this service did not give.
        """
        before = row_id_of(cursor)
        if caller is not None and not caller.superuser:
            raise NotAllowed()
        async with self._uow(read_only=True) as uow:
            account_id = None
            if email:
                account = await uow.accounts.by_email(normalise_email(email))
                if account is None:
                    raise NotFound(f"No account has the e-mail address '{email}'.")
                account_id = account.id
            limit = bounded(limit)
            return page_of(await uow.audit.list(account_id, since, before, limit + 1), limit)


def _cut(text: str | None, length: int) -> str | None:
    return text[:length] if text else None
