"""Deleting an account: by its owner, who proves it with the password.

The account's sessions and one-time keys go with it; the audit trail keeps its events
(it has no foreign key, so it outlives what it speaks of), and the address is told by
mail, so that a deletion by someone holding a stolen session does not go unnoticed.
"""

from __future__ import annotations

from portcullis.core.accounts import Accounts
from portcullis.core.audit import AuditTrail
from portcullis.core.models import Account, AuditKind, Client, KeyPurpose, Notice
from portcullis.core.ports import Clock, UnitOfWork, UnitOfWorkFactory


async def remove_account(uow: UnitOfWork, account_id: int) -> None:
    """Delete the account, its sessions, tokens and keys, in the caller's transaction."""
    await uow.sessions.remove_all(account_id)
    await uow.tokens.remove_all(account_id)
    await uow.keys.remove_all(account_id, tuple(KeyPurpose))
    await uow.accounts.remove(account_id)


class AccountDeletion:
    def __init__(self, uow: UnitOfWorkFactory, accounts: Accounts, clock: Clock, audit: AuditTrail):
        self._uow = uow
        self._accounts = accounts
        self._clock = clock
        self._audit = audit

    async def delete_own(
        self, account: Account, password: str, client: Client | None = None
    ) -> None:
        """Delete the signed-in user's account once ``password`` is its password.

        The check counts toward the account's lockout as a sign-in does. Raises
        TooManyAttempts while the account is held back, InvalidCredentials for a wrong
        password (nothing is deleted then).
        """
        await self._accounts.confirm_password(account, password, client)
        await self._delete(account, client, "by_owner")

    async def delete_by_operator(self, account: Account) -> None:
        """Delete an account on the operator's word (the CLI): no password is asked, and
        the address is told as when its owner deletes it."""
        await self._delete(account, None, "by_operator")

    async def _delete(self, account: Account, client: Client | None, how: str) -> None:
        async with self._uow() as uow:
            await remove_account(uow, account.id)
            notice = Notice("account_deleted", account.email, {"name": account.full_name})
            await uow.outbox.add(notice, self._clock.now())
            event = self._audit.event(
                AuditKind.ACCOUNT_DELETED, client, account=account, detail=how
            )
            await self._audit.write(uow, event)
