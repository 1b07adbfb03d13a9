"""The seams the core needs. Storage, mail and the clock plug in here and only here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol

from portcullis.core.models import (
    AccessToken,
    Account,
    AccountStatus,
    Admission,
    AuditEvent,
    DialectFields,
    KeyPurpose,
    NewAccount,
    Notice,
    Permission,
    Session,
    UsedKey,
)
from portcullis.core.paging import Position


class Clock(Protocol):
    def now(self) -> datetime: ...


class AccountStore(Protocol):
    async def by_id(self, account_id: int) -> Account | None: ...
    async def by_email(self, email: str) -> Account | None: ...
    async def by_login(self, login: str) -> Account | None:
        """The account whose e-mail (any case) or username (by ``canonical_login``) is ``login``."""
        ...

    async def add(self, account: NewAccount) -> Account:
        """Store a new account; raises ``DuplicateAccount`` if e-mail or username is taken."""
        ...

    async def list(self, after: int | None, limit: int) -> Sequence[Account]:
        """``limit`` accounts by id, from the first after ``after`` if given."""
        ...

    async def service_accounts(self, after: int | None, limit: int) -> Sequence[Account]:
        """``limit`` service accounts by id, from the first after ``after`` if given."""
        ...

    async def remove(self, account_id: int) -> None:
        """Delete the account's row (its sessions and keys first: they refer to it)."""
        ...

    async def set_password_hash(self, account_id: int, password_hash: str) -> None: ...
    async def replace_password_hash(self, account_id: int, old: str, new: str) -> bool:
        """Set ``new`` only if the stored hash is still ``old``; whether it was."""
        ...

    async def set_status(self, account_id: int, status: AccountStatus) -> None: ...
    async def set_username(self, account_id: int, username: str | None) -> None:
        """Raises ``DuplicateAccount`` if another account's username folds to the same."""
        ...

    async def set_orcid(self, account_id: int, orcid: str | None) -> None: ...
    async def set_permissions(self, account_id: int, permissions: Sequence[Permission]) -> None: ...
    async def set_email_verified(self, account_id: int, verified: bool) -> None: ...
    async def set_superuser(self, account_id: int, superuser: bool) -> None: ...
    async def set_email(self, account_id: int, email: str) -> None:
        """Raises DuplicateAccount("email") if another account has ``email``."""
        ...

    async def set_profile(
        self,
        account_id: int,
        *,
        email: str,
        full_name: str,
        dialect_fields: Mapping[str, DialectFields],
    ) -> None:
        """Raises DuplicateAccount("email") if another account has ``email``."""
        ...


class SessionStore(Protocol):
    async def remove_by_token_hash(self, token_hash: bytes) -> int | None:
        """Delete the session of the token; the account it belonged to, or None."""
        ...

    async def remove(self, account_id: int, session_id: str) -> bool: ...
    async def remove_all(self, account_id: int) -> int: ...
    async def list(
        self, account_id: int, after: Position | None = None, limit: int | None = None
    ) -> Sequence[Session]:
        """The account's sessions newest first (by ``Position``): at most ``limit``, from
        the first after ``after`` if given."""
        ...

    async def purge_expired(self, now: datetime, idle_since: datetime, limit: int) -> int:
        """Delete at most ``limit`` lapsed sessions; how many went."""
        ...


class TokenStore(Protocol):
    """Access tokens by their keyed hash; ``id`` is each token's public handle."""

    async def add(self, token: AccessToken, token_hash: bytes) -> None: ...
    async def list(
        self, account_id: int, after: Position | None = None, limit: int | None = None
    ) -> Sequence[AccessToken]:
        """The account's tokens newest first (by ``Position``), as SessionStore.list."""
        ...

    async def remove(self, account_id: int, token_id: str) -> bool: ...
    async def remove_all(self, account_id: int) -> int: ...
    async def purge_expired(self, now: datetime, limit: int) -> int: ...


class SessionHotPath(Protocol):
    """The token check's one read (and its activity write), signing in's one write.

    Kept apart from the unit of work so storage can serve them on the leanest path.
    """

    async def find(self, token_hash: bytes) -> tuple[Session, Account] | None: ...

    async def start(self, session: Session, token_hash: bytes, event: AuditEvent) -> None:
        """In one transaction: store the new session, make its start the account's last
        activity, and record ``event``."""
        ...

    async def touch(self, session_id: str, account_id: int, at: datetime) -> None:
        """Record activity on the session and its account, in one transaction."""
        ...

    async def find_token(self, token_hash: bytes) -> tuple[AccessToken, Account] | None:
        """The access token of that hash and its account, on the same lean read."""
        ...

    async def touch_token(self, token_id: str, at: datetime, event: AuditEvent | None) -> None:
        """Record the token's use (and ``event``, its first use, in the same transaction)."""
        ...


class AccountLookup(Protocol):
    """Signing in's one read, on the same lean path as the token check."""

    async def by_login(self, login: str) -> Account | None:
        """The account whose e-mail (any case) or username is ``login``."""
        ...


class KeyStore(Protocol):
    async def replace(
        self,
        account_id: int,
        purpose: KeyPurpose,
        key_hash: bytes,
        created_at: datetime,
        expires_at: datetime,
        new_email: str | None = None,
    ) -> None:
        """Store a key, voiding every older key of the same account and purpose."""
        ...

    async def consume(
        self, key_hash: bytes, purposes: Sequence[KeyPurpose], now: datetime
    ) -> UsedKey | None:
        """Delete a live key and return what it was for; None if there is none.

        Runs in the caller's transaction, so of two racing uses exactly one wins.
        """
        ...

    async def peek(
        self, key_hash: bytes, purposes: Sequence[KeyPurpose], now: datetime
    ) -> int | None:
        """The account of a live key, leaving the key in place."""
        ...

    async def remove_all(self, account_id: int, purposes: Sequence[KeyPurpose]) -> int:
        """Delete every key of the account with one of ``purposes``; how many there were."""
        ...

    async def purge_expired(self, now: datetime, limit: int) -> int: ...


class Outbox(Protocol):
    async def add(self, notice: Notice, at: datetime) -> None: ...


class AuditStore(Protocol):
    """Append-only: events are added and read, never changed; removed only when old."""

    async def add(self, event: AuditEvent) -> None: ...
    async def purge_before(self, cutoff: datetime, limit: int) -> int:
        """Delete at most ``limit`` events from before ``cutoff``; how many went."""
        ...

    async def list(
        self, account_id: int | None, since: datetime | None, before: int | None, limit: int
    ) -> Sequence[tuple[int, AuditEvent]]:
        """The newest ``limit`` events with their row ids, newest first: of one account if
        given, from ``since`` if given, older than row ``before`` if given."""
        ...


class UnitOfWork(Protocol):
    """One transaction: committed when the block ends normally, rolled back otherwise."""

    @property
    def accounts(self) -> AccountStore: ...
    @property
    def sessions(self) -> SessionStore: ...
    @property
    def keys(self) -> KeyStore: ...
    @property
    def outbox(self) -> Outbox: ...
    @property
    def audit(self) -> AuditStore: ...
    @property
    def tokens(self) -> TokenStore: ...

    async def __aenter__(self) -> UnitOfWork: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        """A new unit of work. ``read_only`` for one that only reads: it never waits for
        a writer to finish (nor makes one wait), and any write in it fails."""
        ...


class CaptchaVerifier(Protocol):
    async def verify(self, response: str | None, client_address: str | None) -> bool: ...


class Attempts(Protocol):
    """The lockout's counts of password checks per subject, shared by every worker.

    One atomic step per check, before any hashing: whatever number of checks arrive at
    once, no more are admitted than the policy allows. Every method raises Unavailable
    when the store cannot be reached.
    """

    async def admit(self, subject: str) -> Admission:
        """Refuse (a live hold, or the day's failures spent), or count the check as a
        failure in the streak and the day, starting the hold that count calls for."""
        ...

    async def succeeded(self, subject: str) -> None:
        """The admitted check was right: clear the streak and the hold, and give back
        its count of the day (the day's cap counts failures only)."""
        ...


class RateLimiter(Protocol):
    async def hit(self, rule: str, *identifiers: str) -> None:
        """Count one attempt under ``rule`` for ``identifiers``.

        Raises TooManyAttempts when the budget is spent, Unavailable when the store is down.
        """
        ...


class Instruments(Protocol):
    """What the core tells whoever watches it; counting and logging are the adapter's.

    Each call is made once per event, on the event loop except ``hashed`` (a hashing
    thread), and must not raise or block.
    """

    def signed_in(self, outcome: str) -> None:
        """A password sign-in ended: ok, bad_password, unknown, held_back or inactive."""

    def lockout_started(self, seconds: int) -> None:
        """A failed sign-in started a hold of ``seconds`` on its account or name."""

    def token_checked(self, outcome: str) -> None:
        """A session token was resolved: ok, missing, unknown, expired or inactive."""

    def hashed(self, waited: float, took: float) -> None:
        """A password hash ran ``took`` seconds after waiting ``waited`` for a thread."""


class Unobserved:
    """Instruments that note nothing: the default wherever nobody watches."""

    def signed_in(self, outcome: str) -> None:
        pass

    def lockout_started(self, seconds: int) -> None:
        pass

    def token_checked(self, outcome: str) -> None:
        pass

    def hashed(self, waited: float, took: float) -> None:
        pass
