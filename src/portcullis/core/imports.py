"""Bringing another service's accounts in: what a source row becomes, and why one is refused.

The readers (``portcullis.importers``) turn a source's rows into ImportedAccounts; this
decides which may come in, and an ImportStore writes them a batch per transaction. Rows
that clash are reported by reason and skipped, never merged or overwritten: the operator
settles them by hand. Each account remembers its source row, so a second run (or one
resumed after a kill) brings only what is still missing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from portcullis.core.models import (
    AccountStatus,
    DialectFields,
    KeyPurpose,
    Permission,
    StorageMode,
)
from portcullis.core.tokens import Hasher, new_account_secret, new_session_id
from portcullis.core.validation import (
    MAX_NAME_LENGTH,
    canonical_login,
    email_problems,
    normalise_email,
    orcid_problems,
    username_problems,
)

BATCH_SIZE = 1000
# What accounts.secret and accounts.password_hash hold (storage/tables.py): a longer one
# would fail its whole batch on PostgreSQL, so such a row is refused alone, up front.
MAX_SECRET_LENGTH = 64
MAX_HASH_LENGTH = 255


@dataclass(frozen=True, slots=True)
class ImportedAccount:
    """One source row, as the reader understood it. Keys and tokens are in clear here."""

    source_ref: str  # the source and the row's id there: "biostudies:3"
    email: str
    username: str | None
    full_name: str
    password_hash: str | None  # tagged as hashing.legacy does; None: set one by mail
    status: AccountStatus
    created_at: datetime
    superuser: bool = False
    email_verified: bool = False
    notifications_enabled: bool = False
    storage_mode: StorageMode = StorageMode.NFS
    orcid: str | None = None
    secret: str | None = None  # None: a new one (the source names no folders)
    folder_id: int | None = None
    last_activity_at: datetime | None = None
    permissions: tuple[Permission, ...] = ()
    dialect_fields: Mapping[str, DialectFields] = field(default_factory=dict)
    keys: tuple[tuple[KeyPurpose, str], ...] = ()
    tokens: tuple[str, ...] = ()  # API tokens scripts hold; they become sessions
    refused: str | None = None  # a reason the reader found already (a system row)


@dataclass(frozen=True, slots=True)
class StoredKey:
    purpose: KeyPurpose
    key_hash: bytes
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class StoredToken:
    session_id: str
    token_hash: bytes
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Arrival:
    """An account cleared to come in, its keys and tokens hashed as they are stored."""

    account: ImportedAccount
    keys: tuple[StoredKey, ...]
    tokens: tuple[StoredToken, ...]


@dataclass
class Present:
    """What the accounts here hold already, read once when an import starts: per-batch
    lookups cost more than the inserts (PostgreSQL plans them for the empty table it saw
    first). Who registers during the import is caught by the unique indexes instead."""

    refs: set[str]  # the source rows earlier runs brought
    emails: set[str]
    username_keys: set[str]


class ImportStore(Protocol):
    async def present(self) -> Present: ...

    async def add(self, arrivals: Sequence[Arrival], at: datetime) -> list[str]:
        """Store ``arrivals`` (accounts, keys, sessions, an ``imported`` audit event each)
        in one transaction; a row refused by the database meanwhile (an address taken
        since we looked) is left out. Returns the refs of those left out."""
        ...


@dataclass
class ImportSummary:
    source: str
    dry_run: bool = False
    imported: int = 0
    already: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)
    tags: int = 0
    keys: int = 0
    tokens: int = 0
    refusals: list[tuple[str, str]] = field(default_factory=list)  # (ref, reason)

    @property
    def changed(self) -> bool:
        return self.imported > 0

    def lines(self) -> list[str]:
        verb = "would import" if self.dry_run else "imported"
        lines = [
            f"{self.source}: {verb} {self.imported} account(s), {self.tags} tag permission(s), "
            f"{self.keys} key(s), {self.tokens} token(s)",
            f"already here from an earlier run: {self.already}",
        ]
        lines += [f"skipped ({reason}): {n}" for reason, n in sorted(self.skipped.items())]
        lines += [f"note ({what}): {n}" for what, n in sorted(self.notes.items())]
        if self.dry_run:
            lines.append("dry run: nothing was written")
        elif not self.changed:
            lines.append("nothing changed")
        return lines


@dataclass(frozen=True, slots=True)
class ImportPolicy:
    key_lifetime: timedelta
    token_lifetime: timedelta
    batch_size: int = BATCH_SIZE


def _groups(accounts: Iterable[ImportedAccount]) -> tuple[Counter[str], Counter[str]]:
    emails: Counter[str] = Counter()
    usernames: Counter[str] = Counter()
    for account in accounts:
        emails[normalise_email(account.email)] += 1
        if account.username:
            usernames[canonical_login(account.username)] += 1
    return emails, usernames


def _own_problem(account: ImportedAccount) -> str | None:
    """Why the row cannot come in on its own account, whatever else is here."""
    if account.refused:
        return account.refused
    if email_problems(normalise_email(account.email)):
        return "invalid_email"
    if len(account.secret or "") > MAX_SECRET_LENGTH:
        return "secret_too_long"
    if len(account.password_hash or "") > MAX_HASH_LENGTH:
        return "password_hash_too_long"
    return None


def _clash(
    account: ImportedAccount, emails: Counter[str], usernames: Counter[str], spelled: set[str]
) -> str | None:
    """Why the row clashes with another row of the same source."""
    email = normalise_email(account.email)
    if emails[email] > 1:
        return "email_duplicate_in_source" if account.email in spelled else "email_differs_by_case"
    if account.username and usernames[canonical_login(account.username)] > 1:
        return "username_clashes_when_case_folded"
    return None


def screened(accounts: Sequence[ImportedAccount], summary: ImportSummary) -> list[ImportedAccount]:
    """The rows that may come in as far as the source alone tells, tidied for storing;
    the others counted in ``summary`` by reason. Every member of a clash is skipped,
    so the outcome does not depend on the order the source hands rows over."""
    emails, usernames = _groups(accounts)
    spellings = Counter(a.email.strip() for a in accounts)
    repeated = {spelling for spelling, n in spellings.items() if n > 1}
    kept = []
    for account in accounts:
        reason = _own_problem(account) or _clash(account, emails, usernames, repeated)
        if reason:
            summary.skipped[reason] += 1
            summary.refusals.append((account.source_ref, reason))
        else:
            kept.append(_tidied(account, summary))
    return kept


def _tidied(account: ImportedAccount, summary: ImportSummary) -> ImportedAccount:
    username = account.username
    if username is not None and username_problems(username):
        # Such a name (Django allows "@") cannot sign in here; the e-mail still does.
        summary.notes["username_not_kept"] += 1
        username = None
    orcid = account.orcid if account.orcid and not orcid_problems(account.orcid) else None
    if account.orcid and orcid is None:
        summary.notes["orcid_not_kept"] += 1
    if account.password_hash is None:
        summary.notes["must_set_password_by_mail"] += 1
    return replace(
        account,
        email=normalise_email(account.email),
        username=username,
        orcid=orcid,
        full_name=account.full_name.strip()[:MAX_NAME_LENGTH],
        secret=account.secret or new_account_secret(),
    )


class Importer:
    """Runs one source into the store, a batch per transaction."""

    def __init__(self, store: ImportStore, hasher: Hasher, policy: ImportPolicy):
        self._store = store
        self._hasher = hasher
        self._policy = policy

    async def run(
        self,
        accounts: Sequence[ImportedAccount],
        summary: ImportSummary,
        now: datetime,
        progress: Callable[[int], None] = lambda _: None,
    ) -> ImportSummary:
        """Bring ``accounts`` in (or, with ``summary.dry_run``, only count what would come).

        Raises what the store raises when the database fails: the batches committed
        before stay, and a run again goes on from there.
        """
        kept = screened(accounts, summary)
        progress(len(accounts) - len(kept))
        present = await self._store.present()
        size = self._policy.batch_size
        for start in range(0, len(kept), size):
            batch = kept[start : start + size]
            await self._batch(batch, present, summary, now)
            progress(len(batch))
        return summary

    async def _batch(
        self,
        batch: Sequence[ImportedAccount],
        present: Present,
        summary: ImportSummary,
        now: datetime,
    ) -> None:
        fresh = [a for a in batch if a.source_ref not in present.refs]
        summary.already += len(batch) - len(fresh)
        arrivals = []
        for account in fresh:
            reason = _taken(account, present.emails, present.username_keys)
            if reason:
                summary.skipped[reason] += 1
                summary.refusals.append((account.source_ref, reason))
            else:
                arrivals.append(self._arrival(account, now))
        left_out = set() if summary.dry_run else set(await self._store.add(arrivals, now))
        for arrival in arrivals:
            if arrival.account.source_ref in left_out:
                summary.skipped["taken_during_import"] += 1
                summary.refusals.append((arrival.account.source_ref, "taken_during_import"))
                continue
            summary.imported += 1
            summary.tags += len(arrival.account.permissions)
            summary.keys += len(arrival.keys)
            summary.tokens += len(arrival.tokens)

    def _arrival(self, account: ImportedAccount, now: datetime) -> Arrival:
        keys = tuple(
            StoredKey(purpose, self._hasher.key_hash(key), now + self._policy.key_lifetime)
            for purpose, key in account.keys
        )
        tokens = tuple(
            StoredToken(
                new_session_id(), self._hasher.token_hash(token), now + self._policy.token_lifetime
            )
            for token in account.tokens
        )
        return Arrival(account, keys, tokens)


def _taken(account: ImportedAccount, emails: set[str], usernames: set[str]) -> str | None:
    if account.email in emails:
        return "email_already_here"
    if account.username and canonical_login(account.username) in usernames:
        return "username_already_here"
    return None
