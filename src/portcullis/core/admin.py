"""What operators do to accounts: from the CLI, or as a superuser through an API."""

from __future__ import annotations

from portcullis.core.accounts import store_new_password
from portcullis.core.audit import AuditTrail
from portcullis.core.email_change import take_new_address
from portcullis.core.errors import (
    AddressTaken,
    DuplicateAccount,
    InvalidInput,
    NotAllowed,
    NotFound,
)
from portcullis.core.models import (
    AccessType,
    Account,
    AccountStatus,
    AuditKind,
    Client,
    NewAccount,
    Permission,
    Session,
    StorageMode,
)
from portcullis.core.paging import DEFAULT_LIMIT, Page, bounded, page_of, row_id_of
from portcullis.core.passwords import PasswordContext, PasswordHasher, PasswordPolicy
from portcullis.core.ports import Clock, UnitOfWork, UnitOfWorkFactory
from portcullis.core.sessions import Sessions
from portcullis.core.tokens import new_account_secret
from portcullis.core.validation import (
    MAX_TAGS,
    email_problems,
    name_problems,
    normalise_email,
    tag_problems,
    username_problems,
)


class Administration:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        hasher: PasswordHasher,
        password_policy: PasswordPolicy,
        clock: Clock,
        sessions: Sessions,
        audit: AuditTrail,
        default_storage_mode: StorageMode = StorageMode.NFS,
    ):
        self._default_storage_mode = default_storage_mode
        self._uow = uow
        self._hasher = hasher
        self._password_policy = password_policy
        self._clock = clock
        self._sessions = sessions
        self._audit = audit

    async def add_user(
        self,
        email: str,
        password: str | None,
        *,
        username: str | None = None,
        full_name: str = "",
        superuser: bool = False,
        active: bool = True,
        storage_mode: StorageMode | None = None,
        actor: Account | None = None,
        client: Client | None = None,
    ) -> Account:
        """Create an account. Raises InvalidInput (bad values, weak password, taken name).

        An operator is no attacker: a taken e-mail or username is said plainly.
        """
        email = normalise_email(email)
        self._check_new_user(email, password, username, full_name)
        password_hash = await self._hasher.hash(password) if password is not None else None
        try:
            async with self._uow() as uow:
                account = await uow.accounts.add(
                    NewAccount(
                        email=email,
                        username=username,
                        full_name=full_name.strip() or email.split("@", 1)[0],
                        orcid=None,
                        secret=new_account_secret(),
                        status=AccountStatus.ACTIVE if active else AccountStatus.PENDING,
                        superuser=superuser,
                        notifications_enabled=False,
                        password_hash=password_hash,
                        created_at=self._clock.now(),
                        storage_mode=storage_mode or self._default_storage_mode,
                        # An operator who makes an active account vouches for its address.
                        email_verified=active,
                    )
                )
                await self._record(uow, account, "add_user", actor, client)
                return account
        except DuplicateAccount as duplicate:
            raise InvalidInput([f"The {duplicate.field} is already taken"]) from None

    def _check_new_user(
        self, email: str, password: str | None, username: str | None, full_name: str
    ) -> None:
        problems = [*email_problems(email), *username_problems(username)]
        if full_name.strip():  # checked as given: stripping must not hide a control character
            problems += name_problems(full_name)
        if password is not None:
            problems += self._password_policy.problems(password, PasswordContext(email, username))
        if problems:
            raise InvalidInput(problems)

    async def list_users(
        self, limit: int = DEFAULT_LIMIT, cursor: str | None = None, actor: Account | None = None
    ) -> Page[Account]:
        """A page of accounts by id, from ``cursor`` (the previous page's ``next``) if given.

        ``actor`` None is the operator's CLI. Raises NotAllowed for non-superusers,
        InvalidInput for a cursor this service did not give.
        """
        if actor is not None and not actor.superuser:
            raise NotAllowed()
        after = row_id_of(cursor)
        limit = bounded(limit)
        async with self._uow(read_only=True) as uow:
            found = await uow.accounts.list(after, limit + 1)
        return page_of([(account.id, account) for account in found], limit)

    async def set_password(
        self, email: str, password: str, actor: Account | None = None
    ) -> Account:
        """Set a password; the account's sessions and reset and setup keys end.

        Raises NotFound, InvalidInput (a password the policy refuses).
        """
        account = await self.find(email)
        problems = self._password_policy.problems(
            password, PasswordContext(account.email, account.username)
        )
        if problems:
            raise InvalidInput(problems)
        password_hash = await self._hasher.hash(password)
        async with self._uow() as uow:
            await store_new_password(uow, account.id, password_hash)
            await self._record(uow, account, "set_password", actor)
        return account

    async def rename(self, email: str, username: str, actor: Account | None = None) -> Account:
        """Give the account another username (the way out of a clash migration 0003 found).

        Raises NotFound, InvalidInput (a bad name, or one whose folded form is taken).
        """
        problems = username_problems(username)
        if problems:
            raise InvalidInput(problems)
        account = await self.find(email)
        try:
            async with self._uow() as uow:
                await uow.accounts.set_username(account.id, username)
                await self._record(uow, account, "rename", actor)
        except DuplicateAccount:
            raise InvalidInput(["The username is already taken"]) from None
        return account

    async def grant(
        self,
        email: str,
        tag: str,
        access: AccessType = AccessType.READ,
        actor: Account | None = None,
    ) -> bool:
        """Give the account ``access`` on ``tag``; False if it had it already (nothing is
        changed or recorded then). Raises NotAllowed (an actor who is no superuser),
        NotFound, InvalidInput."""
        return await self._change_permissions(email, Permission(access, tag), add=True, actor=actor)

    async def revoke(
        self,
        email: str,
        tag: str,
        access: AccessType = AccessType.READ,
        actor: Account | None = None,
    ) -> bool:
        """Take ``access`` on ``tag`` away. Raises NotFound (also if it had none)."""
        return await self._change_permissions(
            email, Permission(access, tag), add=False, actor=actor
        )

    async def deactivate(self, email: str, actor: Account | None = None) -> Account:
        """Disable the account and end its sessions. Raises NotFound."""
        account = await self.find(email)
        async with self._uow() as uow:
            await uow.accounts.set_status(account.id, AccountStatus.DISABLED)
            await uow.sessions.remove_all(account.id)
            # Revoked, not merely refused: a later reactivation starts with no old
            # credentials alive (docs/gateway.md says why).
            await uow.tokens.remove_all(account.id)
            await self._record(uow, account, "deactivate", actor)
        return account

    # --- sessions of any account (``actor`` None is the operator's CLI) -------------

    async def sessions_of(
        self,
        email: str,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        actor: Account | None = None,
    ) -> Page[Session]:
        """A page of the account's sessions, newest first, as Sessions.page. Raises
        NotAllowed for a non-superuser actor, NotFound for an unknown e-mail, InvalidInput
        for a cursor this service did not give."""
        account = await self._target(email, actor)
        return await self._sessions.page(account.id, limit, cursor)

    async def end_session(
        self,
        email: str,
        session_id: str,
        actor: Account | None = None,
        client: Client | None = None,
    ) -> None:
        """Raises NotAllowed, NotFound (no such account or session)."""
        account = await self._target(email, actor)
        await self._sessions.close_one(account, session_id, client, actor=actor)

    async def logout_everywhere(
        self, email: str, actor: Account | None = None, client: Client | None = None
    ) -> int:
        """End every session of the account; how many. Raises NotAllowed, NotFound."""
        account = await self._target(email, actor)
        return await self._sessions.close_all(account, client, actor=actor)

    async def _target(self, email: str, actor: Account | None) -> Account:
        if actor is not None and not actor.superuser:
            raise NotAllowed()
        return await self.find(email)

    async def _record(
        self,
        uow: UnitOfWork,
        account: Account,
        action: str,
        actor: Account | None,
        client: Client | None = None,
    ) -> None:
        event = self._audit.event(
            AuditKind.ADMIN_ACTION, client, account=account, actor=actor, detail=action
        )
        await self._audit.write(uow, event)

    async def find(self, email: str) -> Account:
        async with self._uow(read_only=True) as uow:
            account = await uow.accounts.by_email(normalise_email(email))
        if account is None:
            raise NotFound(f"No account has the e-mail address '{email}'.")
        return account

    async def check_registration(
        self, caller: Account, email: str, username: str, client: Client | None = None
    ) -> Account:
        """For superusers: the account of ``email``, made pending (no password) if missing.

        ``username`` is the BioStudies client's name for the new account's full name.
        Raises NotAllowed for anyone else, InvalidInput for a bad address or name.
        """
        if not caller.superuser:
            raise NotAllowed()
        email = normalise_email(email)
        async with self._uow(read_only=True) as uow:
            existing = await uow.accounts.by_email(email)
        if existing is not None:
            return existing
        return await self.add_user(
            email, None, full_name=username, active=False, actor=caller, client=client
        )

    async def _change_permissions(
        self, email: str, permission: Permission, *, add: bool, actor: Account | None
    ) -> bool:
        if actor is not None and not actor.superuser:
            raise NotAllowed()
        tag = permission.tag.strip()
        permission = Permission(permission.access, tag)
        problems = tag_problems(tag)
        if problems:
            raise InvalidInput(problems)
        async with self._uow() as uow:
            account = await uow.accounts.by_email(normalise_email(email))
            if account is None:
                raise NotFound(f"No account has the e-mail address '{email}'.")
            held = permission in account.permissions
            if add and permission.access is AccessType.READ and tag in ("Public", account.email):
                # Every profile's allow list holds both already.
                raise InvalidInput([f"Every account is allowed '{tag}' already"])
            if not add and not held:
                raise NotFound(
                    f"The account has no tag '{tag}' with {permission.access.value} access."
                )
            if add and held:
                return False
            if add and len(account.permissions) >= MAX_TAGS:
                raise InvalidInput([f"An account holds at most {MAX_TAGS} permissions"])
            kept = [p for p in account.permissions if p != permission]
            await uow.accounts.set_permissions(account.id, kept + ([permission] if add else []))
            action = f"{'grant' if add else 'revoke'} {permission.access.value} {tag}"
            await self._record(uow, account, action, actor)
        return True

    # --- what a deactivation, a promotion or an address change undoes or does --------

    async def reactivate(self, email: str, actor: Account | None = None) -> Account:
        """Let a disabled (or pending) account sign in again. Raises NotFound."""
        account = await self.find(email)
        async with self._uow() as uow:
            await uow.accounts.set_status(account.id, AccountStatus.ACTIVE)
            await self._record(uow, account, "reactivate", actor)
        return account

    async def set_superuser(
        self, email: str, superuser: bool, actor: Account | None = None
    ) -> bool:
        """Make or unmake a superuser; False if it was so already. Raises NotFound."""
        account = await self.find(email)
        if account.superuser is superuser:
            return False
        async with self._uow() as uow:
            await uow.accounts.set_superuser(account.id, superuser)
            await self._record(uow, account, "promote" if superuser else "demote", actor)
        return True

    async def set_email(self, email: str, new_email: str, actor: Account | None = None) -> Account:
        """Move the account to ``new_email`` at once, as verified: the operator vouches
        for it. The old address is told, and its reset keys stop working (email_change).
        Raises NotFound, InvalidInput (a bad or taken address)."""
        account = await self.find(email)
        new_email = normalise_email(new_email)
        problems = email_problems(new_email)
        if problems:
            raise InvalidInput(problems)
        if new_email == account.email:
            return account
        try:
            async with self._uow() as uow:
                moved = await take_new_address(
                    uow, account, new_email, self._clock, self._audit, None
                )
                await self._record(uow, account, "set_email", actor)
        except AddressTaken:
            raise InvalidInput(["The email is already taken"]) from None
        return moved
