"""Accounts: register, activate, authenticate, change and reset passwords."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from portcullis.core.audit import AuditTrail
from portcullis.core.email_change import take_new_address
from portcullis.core.errors import (
    AlreadyRegistered,
    CaptchaFailed,
    DuplicateAccount,
    InvalidCredentials,
    InvalidInput,
    InvalidKey,
    PasswordRejected,
    TooManyAttempts,
)
from portcullis.core.keys import PASSWORD_KEYS, Keys, Links, mailed_key_values
from portcullis.core.lockout import Lockout
from portcullis.core.models import (
    Account,
    AccountStatus,
    AuditKind,
    Client,
    KeyPurpose,
    LinkTarget,
    NewAccount,
    Notice,
    Registration,
    StorageMode,
)
from portcullis.core.passwords import (
    MAX_PASSWORD_LENGTH,
    PasswordContext,
    PasswordHasher,
    PasswordPolicy,
)
from portcullis.core.ports import (
    AccountLookup,
    CaptchaVerifier,
    Clock,
    RateLimiter,
    UnitOfWork,
    UnitOfWorkFactory,
)
from portcullis.core.tokens import new_account_secret
from portcullis.core.validation import (
    MAX_LOGIN_LENGTH,
    email_problems,
    name_problems,
    normalise_email,
    orcid_problems,
    username_problems,
)

MISSING_LINK_TARGET = (
    "instanceKey and path are required: the account is activated by a link mailed to it"
)
USERNAME_TAKEN = "The username is already taken"
# The keys that prove a pending account's address; a setup key also sets its password.
ACTIVATING_KEYS = (KeyPurpose.ACTIVATION, KeyPurpose.PASSWORD_SETUP)
# What a verification link may carry: a new account's key, or an e-mail change's.
ADDRESS_KEYS = (*ACTIVATING_KEYS, KeyPurpose.EMAIL_CHANGE)
# The key each mail of a key carries, for the lifetime it states.
KEY_OF_MAIL = {
    "activation": KeyPurpose.ACTIVATION,
    "email_verification": KeyPurpose.ACTIVATION,
    "password_setup": KeyPurpose.PASSWORD_SETUP,
    "password_reset": KeyPurpose.PASSWORD_RESET,
}


@dataclass(frozen=True, slots=True)
class AccountPolicy:
    require_activation: bool
    reveal_existing_registration: bool
    default_storage_mode: StorageMode = StorageMode.NFS
    # Answers that must not tell a known e-mail from an unknown one all take this long.
    uniform_answer_seconds: float = 0.25


async def store_new_password(uow: UnitOfWork, account_id: int, password_hash: str) -> None:
    """Set a new password and end what the old one, or its loss, left open: every session
    of the account and every outstanding reset or setup key, which would otherwise set a
    password over the one just chosen. Every change of a password goes through here."""
    await uow.accounts.set_password_hash(account_id, password_hash)
    await uow.sessions.remove_all(account_id)
    await uow.keys.remove_all(account_id, PASSWORD_KEYS)


def awaits_verification(account: Account) -> bool:
    """Whether a mailed activation key may still verify the account's e-mail: a pending
    account, or one allowed to sign in before verifying; never a disabled one."""
    if account.status is AccountStatus.PENDING:
        return True
    return account.status is AccountStatus.ACTIVE and not account.email_verified


@asynccontextmanager
async def uniform_duration(seconds: float) -> AsyncIterator[None]:
    """Stretch the block to ``seconds`` so its length does not depend on what it found."""
    started = time.monotonic()
    try:
        yield
    finally:
        await asyncio.sleep(max(0.0, seconds - (time.monotonic() - started)))


class Accounts:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        hasher: PasswordHasher,
        password_policy: PasswordPolicy,
        keys: Keys,
        links: Links,
        captcha: CaptchaVerifier | None,
        clock: Clock,
        policy: AccountPolicy,
        audit: AuditTrail,
        limiter: RateLimiter,
        lookup: AccountLookup,
        lockout: Lockout,
    ):
        self._uow = uow
        self._lockout = lockout
        self._lookup = lookup
        self._hasher = hasher
        self._password_policy = password_policy
        self._keys = keys
        self._links = links
        self._captcha = captcha
        self._clock = clock
        self._policy = policy
        self._audit = audit
        self._limiter = limiter

    @property
    def needs_link_target(self) -> bool:
        """Whether registering needs a LinkTarget: only when an activation link is mailed."""
        return self._policy.require_activation

    @property
    def password_rules(self) -> tuple[str, ...]:
        """The password policy in words, for forms to show up front."""
        return self._password_policy.rules

    @property
    def password_rule_checks(self) -> tuple[str, ...]:
        """A short name per rule of ``password_rules`` (PasswordPolicy.checks)."""
        return self._password_policy.checks

    def password_problems(self, password: str, email: str, username: str | None) -> list[str]:
        """What the policy finds wrong with ``password`` for this e-mail and username; a
        dialect that reports problems field by field asks before registering."""
        return self._password_policy.problems(
            password, PasswordContext(normalise_email(email), username)
        )

    # --- signing in ---------------------------------------------------------------

    async def find_for_login(self, login: str) -> Account | None:
        """The account ``login`` (e-mail or username, already stripped) names; no hashing."""
        if not login or len(login) > MAX_LOGIN_LENGTH:
            return None
        return await self._lookup.by_login(login)

    async def check_password(self, account: Account | None, password: str) -> Account:
        """``account`` if it is active and ``password`` is its password.

        Raises InvalidCredentials for a wrong password, no account and an inactive
        account alike, after the same amount of hashing work; its ``reason`` says which.
        """
        if len(password) > MAX_PASSWORD_LENGTH:
            raise InvalidCredentials("unknown_account" if account is None else "bad_password")
        verdict = await self._hasher.verify(account.password_hash if account else None, password)
        if account is None:
            raise InvalidCredentials("unknown_account")
        if not verdict.ok:
            raise InvalidCredentials("bad_password")
        if not account.active:
            raise InvalidCredentials("inactive")
        if verdict.new_hash and account.password_hash:
            # Only over the hash just checked: a password set meanwhile (a reset, say)
            # must not be replaced by the one this login typed.
            async with self._uow() as uow:
                await uow.accounts.replace_password_hash(
                    account.id, account.password_hash, verdict.new_hash
                )
        return account

    # --- registering and activating ---------------------------------------------

    async def register(
        self,
        registration: Registration,
        target: LinkTarget | None,
        captcha_response: str | None,
        client: Client | None = None,
    ) -> None:
        """Create an account, pending until its e-mail is proven when activation is required.

        ``target`` says where the link that verifies the e-mail leads; with it a link is
        mailed (and the target checked), without it none. It is needed when activation is
        required; otherwise the account may sign in at once, its e-mail still unverified.
        Raises InvalidInput (every problem at once), UnknownInstance, CaptchaFailed. A taken
        e-mail or username is refused (AlreadyRegistered, InvalidInput) only when the
        operator chose to reveal existing accounts; else the address is told by mail and
        the caller sees the same answer as for a new registration.
        """
        email = normalise_email(registration.email)
        problems = [
            *email_problems(email),
            *name_problems(registration.full_name),
            *username_problems(registration.username),
            *orcid_problems(registration.orcid),
            *self._password_policy.problems(
                registration.password, PasswordContext(email, registration.username)
            ),
        ]
        if target is None and self.needs_link_target:
            problems.append(MISSING_LINK_TARGET)
        if problems:
            raise InvalidInput(problems)
        if target is not None:
            self._links.check(target)
        client = client or Client()
        await self._check_captcha(captcha_response, client.address)
        async with uniform_duration(self._policy.uniform_answer_seconds):
            password_hash = await self._hasher.hash(registration.password)
            async with self._uow() as uow:
                await self._register(uow, registration, email, password_hash, target, client)

    async def _register(
        self,
        uow: UnitOfWork,
        registration: Registration,
        email: str,
        password_hash: str,
        target: LinkTarget | None,
        client: Client,
    ) -> None:
        now = self._clock.now()
        pending = self._policy.require_activation
        try:
            account = await uow.accounts.add(
                NewAccount(
                    email=email,
                    username=registration.username,
                    full_name=registration.full_name.strip(),
                    orcid=registration.orcid or None,
                    secret=new_account_secret(),
                    status=AccountStatus.PENDING if pending else AccountStatus.ACTIVE,
                    superuser=False,
                    notifications_enabled=registration.notifications_enabled,
                    password_hash=password_hash,
                    created_at=now,
                    storage_mode=registration.storage_mode or self._policy.default_storage_mode,
                    email_verified=False,
                    dialect_fields=registration.dialect_fields,
                )
            )
        except DuplicateAccount as duplicate:
            await self._refuse_taken(uow, duplicate.field, registration, email, client)
            return
        await self._audit.write(
            uow, self._audit.event(AuditKind.REGISTERED, client, account=account)
        )
        if target is not None:  # register() refuses a pending account without one
            key = await self._keys.issue(uow, account.id, KeyPurpose.ACTIVATION)
            # One that may sign in already is asked to verify its address, not to activate.
            kind = "activation" if pending else "email_verification"
            await self._mail_key(uow, account, kind, target, key)

    async def _refuse_taken(
        self,
        uow: UnitOfWork,
        field: str,
        registration: Registration,
        email: str,
        client: Client,
    ) -> None:
        """Answer a taken e-mail or username as a new registration, and say why by mail.

        The mail goes to the address being registered, which only its owner reads: the
        answer itself tells no one which e-mails and usernames exist, unless the operator
        chose to reveal it (then AlreadyRegistered, or InvalidInput for a username).
        """
        if self._policy.reveal_existing_registration:
            if field == "email":
                raise AlreadyRegistered(email)
            raise InvalidInput([USERNAME_TAKEN])
        if field == "email":
            notice, detail = Notice("registration_attempt", email, {}), "already_registered"
        else:
            username = registration.username or ""
            notice, detail = (
                Notice("username_taken", email, {"username": username}),
                "username_taken",
            )
        await uow.outbox.add(notice, self._clock.now())
        event = self._audit.event(AuditKind.REGISTERED, client, subject=email, detail=detail)
        await self._audit.write(uow, event)

    async def account_to_activate(self, key: str) -> Account:
        """The account whose e-mail ``key`` would verify; the key stays unused.

        Raises InvalidKey.
        """
        async with self._uow(read_only=True) as uow:
            used = await self._keys.peek(uow, key, *ACTIVATING_KEYS)
            account = await uow.accounts.by_id(used) if used is not None else None
            if account is None:
                # An e-mail change's key: confirmed on the same page.
                used = await self._keys.peek(uow, key, KeyPurpose.EMAIL_CHANGE)
                account = await uow.accounts.by_id(used) if used is not None else None
                if account is not None and account.status is not AccountStatus.DISABLED:
                    return account
        if account is None or not awaits_verification(account):
            raise InvalidKey()
        return account

    async def activate(self, key: str, client: Client | None = None) -> KeyPurpose:
        """Verify the e-mail ``key`` was mailed to: a new account's (and let a pending
        one sign in), or the new address of an e-mail change, which the account then
        takes (email_change). Every dialect and the pages verify through here, so there
        is one flag (Account.email_verified) for all. Answers what the key was for.
        Raises InvalidKey, AddressTaken."""
        async with self._uow() as uow:
            used = await self._keys.consume(uow, key, *ADDRESS_KEYS)
            account = await uow.accounts.by_id(used.account_id) if used else None
            if used and account and used.purpose is KeyPurpose.EMAIL_CHANGE and used.new_email:
                if account.status is AccountStatus.DISABLED:
                    raise InvalidKey()
                await take_new_address(
                    uow, account, used.new_email, self._clock, self._audit, client
                )
                return used.purpose
            if used is None or account is None or not awaits_verification(account):
                raise InvalidKey()
            await uow.accounts.set_email_verified(account.id, True)
            if account.status is AccountStatus.PENDING:
                await uow.accounts.set_status(account.id, AccountStatus.ACTIVE)
            await self._audit.write(
                uow, self._audit.event(AuditKind.ACTIVATED, client, account=account)
            )
            return used.purpose

    async def resend_activation(self, email: str, target: LinkTarget) -> None:
        """Mail a fresh activation key if ``email`` is pending; the answer never tells."""
        await self._mail_pending(email, target, KeyPurpose.ACTIVATION, "activation")

    async def send_password_setup(self, email: str, target: LinkTarget) -> None:
        """Mail a pending account a key to set its password (and so activate it)."""
        await self._mail_pending(email, target, KeyPurpose.PASSWORD_SETUP, "password_setup")

    async def _mail_pending(
        self, email: str, target: LinkTarget, purpose: KeyPurpose, kind: str
    ) -> None:
        email = normalise_email(email)
        self._check_email(email)
        self._links.check(target)
        async with uniform_duration(self._policy.uniform_answer_seconds), self._uow() as uow:
            account = await uow.accounts.by_email(email)
            if account is not None and account.status is AccountStatus.PENDING:
                key = await self._keys.issue(uow, account.id, purpose)
                await self._mail_key(uow, account, kind, target, key)

    # --- passwords ----------------------------------------------------------------

    async def request_reset(
        self,
        email: str,
        target: LinkTarget,
        captcha_response: str | None,
        client: Client | None = None,
    ) -> None:
        """Mail a reset key to ``email`` if it has an account; the answer never tells.

        Raises TooManyAttempts when this address asked for this e-mail too often (known
        or not, so the limit tells nothing either).
        """
        email = normalise_email(email)
        self._check_email(email)
        self._links.check(target)
        client = client or Client()
        await self._limiter.hit("reset_per_account", client.address or "-", email)
        await self._check_captcha(captcha_response, client.address)
        async with uniform_duration(self._policy.uniform_answer_seconds), self._uow() as uow:
            account = await uow.accounts.by_email(email)
            event = self._audit.event(
                AuditKind.RESET_REQUESTED,
                client,
                subject=email,
                account_id=account.id if account else None,
            )
            await self._audit.write(uow, event)
            if account is not None and account.status is not AccountStatus.DISABLED:
                key = await self._keys.issue(uow, account.id, KeyPurpose.PASSWORD_RESET)
                await self._mail_key(uow, account, "password_reset", target, key)

    async def change_password_with_key(
        self, key: str, password: str, client: Client | None = None, uid: str | None = None
    ) -> Account:
        """Set the password of the account ``key`` was mailed for.

        The key is used up; a pending account becomes active (the mail proved the
        address); every session of the account ends; the owner is told by mail. With
        ``uid`` (the handle mailed beside the key) it must name the key's account.
        Raises InvalidKey, or PasswordRejected (and the key stays usable).
        """
        return await self._set_password_with_key(key, password, PASSWORD_KEYS, client, uid=uid)

    async def account_for_reset_key(self, key: str) -> Account:
        """The account a reset or setup ``key`` would set the password of; the key stays
        unused (a page says a dead link is dead before asking for a password).
        Raises InvalidKey."""
        async with self._uow(read_only=True) as uow:
            return await self._account_for_key(uow, key, PASSWORD_KEYS)

    async def account_to_reset(self, uid: str, key: str) -> Account:
        """The account a reset ``key`` and the ``uid`` mailed with it name; the key stays
        unused. Raises InvalidKey."""
        async with self._uow(read_only=True) as uow:
            account = await self._account_for_key(uow, key, PASSWORD_KEYS)
        if not self._keys.names_account(uid, account.id):
            raise InvalidKey()
        return account

    async def set_up_password(
        self,
        key: str,
        password: str,
        captcha_response: str | None,
        client: Client | None = None,
    ) -> Account:
        """Set the first password of a pending account from its activation or setup key,
        and so activate it (BioStudies' password setup page).

        Raises CaptchaFailed, InvalidKey (also for an account no longer pending), or
        PasswordRejected (and the key stays usable).
        """
        client = client or Client()
        await self._check_captcha(captcha_response, client.address)
        return await self._set_password_with_key(
            key, password, ACTIVATING_KEYS, client, how="setup_key", pending=True
        )

    async def _set_password_with_key(
        self,
        key: str,
        password: str,
        purposes: tuple[KeyPurpose, ...],
        client: Client | None,
        *,
        how: str = "reset_key",
        pending: bool = False,
        uid: str | None = None,
    ) -> Account:
        async with self._uow() as uow:
            account = await self._account_for_key(uow, key, purposes)
        if pending and account.status is not AccountStatus.PENDING:
            raise InvalidKey()
        if uid is not None and not self._keys.names_account(uid, account.id):
            raise InvalidKey()
        self._check_password(password, account)
        password_hash = await self._hasher.hash(password)
        async with self._uow() as uow:
            used = await self._keys.consume(uow, key, *purposes)
            if used is None or used.account_id != account.id:
                raise InvalidKey()  # used by a racing request since we looked
            await self._set_password(uow, account, password_hash, client, how)
            # The key came by mail: its use proves the address.
            await uow.accounts.set_email_verified(account.id, True)
            if account.status is AccountStatus.PENDING:
                await uow.accounts.set_status(account.id, AccountStatus.ACTIVE)
            refreshed = await uow.accounts.by_id(account.id)
        assert refreshed is not None
        return refreshed

    async def change_password(
        self, account: Account, current: str, new: str, client: Client | None = None
    ) -> None:
        """Change a signed-in user's password; every session of the account ends.

        The check of ``current`` is counted by the account's lockout as a sign-in is: a
        stolen session must not make a password oracle. Raises TooManyAttempts while the
        account is held back, InvalidCredentials if ``current`` is wrong, PasswordRejected
        if ``new`` is.
        """
        stored = await self._check_current(account, current, client or Client())
        self._check_password(new, stored)
        password_hash = await self._hasher.hash(new)
        async with self._uow() as uow:
            await self._set_password(uow, stored, password_hash, client, "current_password")

    async def confirm_password(
        self, account: Account, password: str, client: Client | None = None
    ) -> Account:
        """The account as stored, if ``password`` is its password; for a signed-in user's
        weighty step (deleting the account). Counted by the lockout as a sign-in is.
        Raises TooManyAttempts, InvalidCredentials."""
        return await self._check_current(account, password, client or Client())

    async def _check_current(self, account: Account, current: str, client: Client) -> Account:
        """The account as stored, if ``current`` is its password; counted and audited."""
        subject = self._lockout.subject(account.id, account.email)
        try:
            hold = await self._lockout.admit(subject)
        except TooManyAttempts:
            await self._current_failed(account, client, "locked")
            raise
        async with self._uow(read_only=True) as uow:
            stored = await uow.accounts.by_id(account.id)
        verdict = await self._hasher.verify(stored.password_hash if stored else None, current)
        if stored is None or not verdict.ok:
            await self._current_failed(account, client, "bad_password")
            if hold:
                await self._audit.record(
                    self._audit.event(
                        AuditKind.LOCKOUT_STARTED, client, account=account, detail=f"{hold}s"
                    )
                )
            raise InvalidCredentials()
        await self._lockout.succeeded(subject)
        return stored

    async def _current_failed(self, account: Account, client: Client, reason: str) -> None:
        event = self._audit.event(
            AuditKind.CURRENT_PASSWORD_FAILED, client, account=account, detail=reason
        )
        await self._audit.record(event)

    async def _set_password(
        self,
        uow: UnitOfWork,
        account: Account,
        password_hash: str,
        client: Client | None,
        how: str,
    ) -> None:
        await store_new_password(uow, account.id, password_hash)
        event = self._audit.event(AuditKind.PASSWORD_CHANGED, client, account=account, detail=how)
        await self._audit.write(uow, event)
        await uow.outbox.add(
            Notice("password_changed", account.email, {"name": account.full_name}),
            self._clock.now(),
        )

    async def purge_expired_keys(self, limit: int) -> int:
        """Delete at most ``limit`` one-time keys past their expiry (used ones are deleted
        when used); how many went."""
        async with self._uow() as uow:
            return await uow.keys.purge_expired(self._clock.now(), limit)

    # --- helpers ------------------------------------------------------------------

    async def _account_for_key(
        self, uow: UnitOfWork, key: str, purposes: tuple[KeyPurpose, ...]
    ) -> Account:
        used = await self._keys.peek(uow, key, *purposes)
        account = await uow.accounts.by_id(used) if used is not None else None
        if account is None or account.status is AccountStatus.DISABLED:
            raise InvalidKey()
        return account

    def _check_password(self, password: str, account: Account) -> None:
        problems = self._password_policy.problems(
            password, PasswordContext(account.email, account.username)
        )
        if problems:
            raise PasswordRejected(problems)

    @staticmethod
    def _check_email(email: str) -> None:
        problems = email_problems(email)
        if problems:
            raise InvalidInput(problems)

    async def _check_captcha(self, response: str | None, client_address: str | None) -> None:
        if self._captcha is None:
            return
        if not response or not await self._captcha.verify(response, client_address):
            raise CaptchaFailed()

    async def _mail_key(
        self, uow: UnitOfWork, account: Account, kind: str, target: LinkTarget, key: str
    ) -> None:
        values = mailed_key_values(self._keys, self._links, account, target, key, KEY_OF_MAIL[kind])
        await uow.outbox.add(Notice(kind, account.email, values), self._clock.now())
