"""Changing a signed-in account's e-mail: the new address is taken only once proven.

Taken on the signed-in user's word, an address would let anyone with a session claim
one they do not hold (and have its reset mails), and the answer would tell which
addresses other accounts hold. So a change mails a key to the new address and the
account keeps its old one until the key comes back through the same link that
verifies a new account's address (``Accounts.activate``). Then the old address is told,
and the reset keys mailed to it stop working: the address they proved is no longer the
account's.
"""

from __future__ import annotations

from portcullis.core.audit import AuditTrail
from portcullis.core.errors import AddressTaken, DuplicateAccount, InvalidInput
from portcullis.core.keys import PASSWORD_KEYS, Keys, Links, mailed_key_values
from portcullis.core.models import (
    Account,
    AuditKind,
    Client,
    KeyPurpose,
    LinkTarget,
    Notice,
)
from portcullis.core.ports import Clock, RateLimiter, UnitOfWork, UnitOfWorkFactory
from portcullis.core.validation import email_problems, normalise_email


class EmailChanges:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        keys: Keys,
        links: Links,
        clock: Clock,
        audit: AuditTrail,
        limiter: RateLimiter,
    ):
        self._uow = uow
        self._limiter = limiter
        self._keys = keys
        self._links = links
        self._clock = clock
        self._audit = audit

    async def request(
        self, account: Account, new_email: str, target: LinkTarget, client: Client | None = None
    ) -> bool:
        """Mail ``new_email`` a key that moves the account to it; whether one was mailed
        (not for the account's own address). A newer request voids the older key.

        The answer is the same whether another account holds the address: that is told
        only to whoever opens the mailed link. Raises InvalidInput, UnknownInstance, and
        TooManyAttempts when the account asked too often (each asks mail to any address).
        """
        email = normalise_email(new_email)
        problems = email_problems(email)
        if problems:
            raise InvalidInput(problems)
        if email == account.email:
            return False
        self._links.check(target)
        await self._limiter.hit("mail", f"email-change:{account.id}")
        async with self._uow() as uow:
            key = await self._keys.issue(uow, account.id, KeyPurpose.EMAIL_CHANGE, email)
            values = mailed_key_values(
                self._keys, self._links, account, target, key, KeyPurpose.EMAIL_CHANGE
            )
            await uow.outbox.add(Notice("email_change", email, values), self._clock.now())
            event = self._audit.event(
                AuditKind.EMAIL_CHANGED, client, account=account, subject=email, detail="requested"
            )
            await self._audit.write(uow, event)
        return True


async def take_new_address(
    uow: UnitOfWork,
    account: Account,
    new_email: str,
    clock: Clock,
    audit: AuditTrail,
    client: Client | None,
) -> Account:
    """Move ``account`` to the ``new_email`` a key just proved, in the key's transaction.

    Raises AddressTaken when another account took the address since the key was mailed.
    """
    try:
        await uow.accounts.set_email(account.id, new_email)
    except DuplicateAccount:
        raise AddressTaken() from None
    await uow.accounts.set_email_verified(account.id, True)
    await uow.keys.remove_all(account.id, (*PASSWORD_KEYS, KeyPurpose.EMAIL_CHANGE))
    told = {"name": account.full_name, "new_email": new_email}
    await uow.outbox.add(Notice("email_changed", account.email, told), clock.now())
    event = audit.event(
        AuditKind.EMAIL_CHANGED, client, account=account, subject=account.email, detail="changed"
    )
    await audit.write(uow, event)
    moved = await uow.accounts.by_id(account.id)
    assert moved is not None
    return moved
