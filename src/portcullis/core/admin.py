"""What operators do to accounts: from the CLI, or as a superuser through an API."""

from __future__ import annotations

from collections.abc import Sequence

from portcullis.core.errors import DuplicateAccount, InvalidInput, NotAllowed, NotFound
from portcullis.core.models import Account, AccountStatus, NewAccount
from portcullis.core.passwords import PasswordContext, PasswordHasher, PasswordPolicy
from portcullis.core.ports import Clock, UnitOfWorkFactory
from portcullis.core.tokens import new_account_secret
from portcullis.core.validation import (
    email_problems,
    normalise_email,
    username_problems,
)


class Administration:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        hasher: PasswordHasher,
        password_policy: PasswordPolicy,
        clock: Clock,
    ):
        self._uow = uow
        self._hasher = hasher
        self._password_policy = password_policy
        self._clock = clock

    async def add_user(
        self,
        email: str,
        password: str | None,
        *,
        username: str | None = None,
        full_name: str = "",
        superuser: bool = False,
        active: bool = True,
    ) -> Account:
        """Create an account. Raises InvalidInput (bad values, weak password, taken name)."""
        email = normalise_email(email)
        problems = [*email_problems(email), *username_problems(username)]
        if password is not None:
            problems += self._password_policy.problems(password, PasswordContext(email, username))
        if problems:
            raise InvalidInput(problems)
        password_hash = await self._hasher.hash(password) if password is not None else None
        try:
            async with self._uow() as uow:
                return await uow.accounts.add(
                    NewAccount(
                        email=email,
                        username=username,
                        full_name=full_name or email.split("@", 1)[0],
                        orcid=None,
                        secret=new_account_secret(),
                        status=AccountStatus.ACTIVE if active else AccountStatus.PENDING,
                        superuser=superuser,
                        notifications_enabled=False,
                        password_hash=password_hash,
                        created_at=self._clock.now(),
                    )
                )
        except DuplicateAccount as duplicate:
            raise InvalidInput([f"The {duplicate.field} is already taken"]) from None

    async def list_users(self) -> Sequence[Account]:
        async with self._uow() as uow:
            return await uow.accounts.list()

    async def set_password(self, email: str, password: str) -> Account:
        """Set a password; the account's sessions end. Raises NotFound, PasswordRejected."""
        account = await self.find(email)
        problems = self._password_policy.problems(
            password, PasswordContext(account.email, account.username)
        )
        if problems:
            raise InvalidInput(problems)
        password_hash = await self._hasher.hash(password)
        async with self._uow() as uow:
            await uow.accounts.set_password_hash(account.id, password_hash)
            await uow.sessions.remove_all(account.id)
        return account

    async def grant(self, email: str, tag: str) -> Account:
        return await self._change_tags(email, tag, add=True)

    async def revoke(self, email: str, tag: str) -> Account:
        return await self._change_tags(email, tag, add=False)

    async def deactivate(self, email: str) -> Account:
        """Disable the account and end its sessions. Raises NotFound."""
        account = await self.find(email)
        async with self._uow() as uow:
            await uow.accounts.set_status(account.id, AccountStatus.DISABLED)
            await uow.sessions.remove_all(account.id)
        return account

    async def find(self, email: str) -> Account:
        async with self._uow() as uow:
            account = await uow.accounts.by_email(normalise_email(email))
        if account is None:
            raise NotFound(f"No account has the e-mail address '{email}'.")
        return account

    async def check_registration(self, caller: Account, email: str, username: str) -> Account:
        """For superusers: the account of ``email``, made pending (no password) if missing.

        Raises NotAllowed for anyone else, InvalidInput for a bad address.
        """
        if not caller.superuser:
            raise NotAllowed()
        email = normalise_email(email)
        async with self._uow() as uow:
            existing = await uow.accounts.by_email(email)
        if existing is not None:
            return existing
        return await self.add_user(email, None, full_name=username.strip(), active=False)

    async def _change_tags(self, email: str, tag: str, *, add: bool) -> Account:
        tag = tag.strip()
        if not tag:
            raise InvalidInput(["The tag must not be empty"])
        async with self._uow() as uow:
            account = await uow.accounts.by_email(normalise_email(email))
            if account is None:
                raise NotFound(f"No account has the e-mail address '{email}'.")
            tags = [t for t in account.access_tags if t != tag] + ([tag] if add else [])
            await uow.accounts.set_tags(account.id, tags, account.deny_tags)
        return account
