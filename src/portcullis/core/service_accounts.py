"""Service accounts: a pipeline's or a back end's identity, made by a superuser.

No password (nothing to sign in with), no pages and no sessions (Sessions.open refuses
them), only access tokens, and READ tags like any account's. Only their tokens may call
introspection.
"""

from __future__ import annotations

from collections.abc import Sequence

from portcullis.core.audit import AuditTrail
from portcullis.core.errors import DuplicateAccount, InvalidInput, NotAllowed, NotFound
from portcullis.core.models import (
    AccessType,
    Account,
    AccountStatus,
    AuditKind,
    Client,
    NewAccount,
    Permission,
    StorageMode,
)
from portcullis.core.paging import DEFAULT_LIMIT, Page, bounded, page_of, row_id_of
from portcullis.core.ports import Clock, UnitOfWorkFactory
from portcullis.core.tokens import new_account_secret
from portcullis.core.validation import (
    MAX_TAGS,
    canonical_login,
    tag_problems,
    username_problems,
)

# Never a mailbox (RFC 2606): no mail flow can reach a service account.
SERVICE_DOMAIN = "service.invalid"


def _superuser_or_operator(actor: Account | None) -> None:
    if actor is not None and not actor.superuser:
        raise NotAllowed()


class ServiceAccounts:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, audit: AuditTrail):
        self._uow = uow
        self._clock = clock
        self._audit = audit

    async def add(
        self,
        name: str,
        tags: Sequence[str] = (),
        *,
        actor: Account | None = None,
        client: Client | None = None,
    ) -> Account:
        """Make the service account ``name`` holding READ on ``tags``.

        ``actor`` None is the operator's CLI. Raises NotAllowed for a non-superuser,
        InvalidInput for a bad or taken name or a bad tag.
        """
        _superuser_or_operator(actor)
        tags = list(dict.fromkeys(tag.strip() for tag in tags))
        problems = username_problems(name) + [p for tag in tags for p in tag_problems(tag)]
        if len(tags) > MAX_TAGS:
            problems.append(f"A service account holds at most {MAX_TAGS} tags")
        if problems:
            raise InvalidInput(problems)
        permissions = [Permission(AccessType.READ, tag) for tag in tags]
        try:
            async with self._uow() as uow:
                account = await uow.accounts.add(self._new(name))
                await uow.accounts.set_permissions(account.id, permissions)
                event = self._audit.event(
                    AuditKind.SERVICE_ADDED, client, account=account, actor=actor, detail=name
                )
                await self._audit.write(uow, event)
        except DuplicateAccount:
            raise InvalidInput([f"The name '{name}' is already taken"]) from None
        return await self.find(name)

    def _new(self, name: str) -> NewAccount:
        return NewAccount(
            email=f"{canonical_login(name)}@{SERVICE_DOMAIN}",
            username=name,
            full_name=name,
            orcid=None,
            secret=new_account_secret(),
            status=AccountStatus.ACTIVE,
            superuser=False,
            notifications_enabled=False,
            password_hash=None,
            created_at=self._clock.now(),
            storage_mode=StorageMode.NFS,
            service=True,
        )

    async def find(self, name: str, actor: Account | None = None) -> Account:
        """The service account ``name``. Raises NotAllowed, NotFound."""
        _superuser_or_operator(actor)
        async with self._uow(read_only=True) as uow:
            account = await uow.accounts.by_login(name)
        if account is None or not account.service:
            raise NotFound(f"No service account is named '{name}'.")
        return account

    async def list(
        self, limit: int = DEFAULT_LIMIT, cursor: str | None = None, actor: Account | None = None
    ) -> Page[Account]:
        """A page of the service accounts by id, from ``cursor`` (the previous page's
        ``next``) if given. Raises NotAllowed for a non-superuser, InvalidInput for a
        cursor this service did not give."""
        _superuser_or_operator(actor)
        after = row_id_of(cursor)
        limit = bounded(limit)
        async with self._uow(read_only=True) as uow:
            found = await uow.accounts.service_accounts(after, limit + 1)
        return page_of([(account.id, account) for account in found], limit)
