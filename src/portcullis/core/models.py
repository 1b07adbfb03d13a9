"""The domain's values: plain, immutable, free of any framework."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

# What an account holds for one dialect (or other adapter): its own fields, by name, as
# JSON values. The core stores and returns them and never reads them; see DialectFields.
DialectFields = Mapping[str, Any]


class AccountStatus(StrEnum):
    PENDING = "pending"  # registered, e-mail not yet proven
    ACTIVE = "active"
    DISABLED = "disabled"  # switched off by an operator; no mail flow turns it back on


class StorageMode(StrEnum):
    """Where a user's files live: on the portal's NFS disks or under its FTP root."""

    NFS = "nfs"
    FTP = "ftp"


class AccessType(StrEnum):
    """What a permission on an access tag lets its holder do (BioStudies' access types)."""

    READ = "READ"
    ATTACH = "ATTACH"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    DELETE_FILES = "DELETE_FILES"
    ADMIN = "ADMIN"


@dataclass(frozen=True, slots=True)
class Permission:
    access: AccessType
    tag: str


class KeyPurpose(StrEnum):
    ACTIVATION = "activation"
    PASSWORD_SETUP = "password_setup"  # noqa: S105 (a purpose's name, not a secret)
    PASSWORD_RESET = "password_reset"  # noqa: S105
    EMAIL_CHANGE = "email_change"  # proves a new address before the account takes it


@dataclass(frozen=True, slots=True)
class UsedKey:
    """A one-time key that was live: whose, what for, and (an e-mail change) the address
    it was mailed to."""

    account_id: int
    purpose: KeyPurpose
    new_email: str | None = None


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    email: str
    username: str | None
    full_name: str
    orcid: str | None
    secret: str
    status: AccountStatus
    superuser: bool
    notifications_enabled: bool
    permissions: tuple[Permission, ...]
    deny_tags: tuple[str, ...]
    created_at: datetime
    last_activity_at: datetime | None
    storage_mode: StorageMode
    password_hash: str | None = field(default=None, repr=False)
    # Whether a mailed key has proven the e-mail. Apart from ``status``: with activation
    # not required an account may sign in (ACTIVE) before its address is proven.
    email_verified: bool = False
    # Each adapter's own fields, under the adapter's name ("trackhub": {...}). The core
    # keeps them opaque, so a dialect adds fields without the core learning of them.
    dialect_fields: Mapping[str, DialectFields] = field(default_factory=dict)
    # A service account: no password, no pages, only access tokens.
    service: bool = False
    # The id the account's folder path was built with by the service it was imported
    # from (BioStudies); None: its own id.
    folder_id: int | None = None

    @property
    def active(self) -> bool:
        return self.status is AccountStatus.ACTIVE

    @property
    def access_tags(self) -> tuple[str, ...]:
        """The tags the account may read: what a profile's ``allow`` lists."""
        return self._tags(AccessType.READ)

    @property
    def admin_tags(self) -> tuple[str, ...]:
        """The collections the account administers."""
        return self._tags(AccessType.ADMIN)

    def _tags(self, access: AccessType) -> tuple[str, ...]:
        return tuple(p.tag for p in self.permissions if p.access is access)


@dataclass(frozen=True, slots=True)
class NewAccount:
    email: str
    username: str | None
    full_name: str
    orcid: str | None
    secret: str
    status: AccountStatus
    superuser: bool
    notifications_enabled: bool
    password_hash: str | None
    created_at: datetime
    storage_mode: StorageMode
    email_verified: bool = False
    dialect_fields: Mapping[str, DialectFields] = field(default_factory=dict)
    service: bool = False


class TokenKind(StrEnum):
    """What stands behind a token: a sign-in, a person's access token, a service's."""

    SESSION = "session"
    PERSONAL = "personal"
    SERVICE = "service"


class TokenScope(StrEnum):
    """What an access token may do. A session may do everything its account may."""

    READ = "read"  # the profile, forward-auth and introspection only
    FULL = "full"  # all but changing the password and managing tokens


@dataclass(frozen=True, slots=True)
class Session:
    id: str  # public handle, safe to show; never the token
    account_id: int
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    client_address: str | None
    user_agent: str | None
    # The e-mail of the superuser who opened this session on the owner's behalf ("log in
    # as"); None for a session its owner opened.
    opened_by: str | None = None
    # An access token is resolved as a session of its own kind and scope: its ``id`` is
    # the token's public id.
    kind: TokenKind = TokenKind.SESSION
    scope: TokenScope = TokenScope.FULL
    # A token another service issued, brought by an import: scripts use it now and then,
    # so only its lifetime ends it, not the idle limit.
    api_token: bool = False


@dataclass(frozen=True, slots=True)
class IssuedSession:
    """A new session and its token. The token exists only here, never in storage."""

    token: str
    session: Session
    account: Account


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A personal or service access token, as stored: never the token itself."""

    id: str  # public handle, safe to show
    account_id: int
    kind: TokenKind
    name: str
    scope: TokenScope
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class IssuedAccessToken:
    """A new access token: the token exists only here, shown once, never stored."""

    token: str
    access_token: AccessToken


@dataclass(frozen=True, slots=True)
class Client:
    """Who is calling, as far as the transport can tell."""

    address: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class LinkTarget:
    """Where a mailed link should lead: a configured instance and a path under it."""

    instance_key: str
    path: str


@dataclass(frozen=True, slots=True)
class Notice:
    """A mail to send, by template name and the values the template shows."""

    kind: str
    to: str
    values: dict[str, str]


@dataclass(frozen=True, slots=True)
class Registration:
    email: str
    password: str
    full_name: str
    orcid: str | None = None
    username: str | None = None
    notifications_enabled: bool = False
    storage_mode: StorageMode | None = None  # None: the operator's default
    # The registering dialect's own fields, kept as given (see Account.dialect_fields).
    dialect_fields: Mapping[str, DialectFields] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProfileChange:
    """A signed-in user's edit of their own profile; None leaves a value as it is.
    (The e-mail changes only once proven: core.email_change.)"""

    full_name: str | None = None
    # "" removes the username or the ORCID iD.
    username: str | None = None
    orcid: str | None = None
    # Replaces the fields of each dialect named here; other dialects' stay as they are.
    dialect_fields: Mapping[str, DialectFields] = field(default_factory=dict)


class AuditKind(StrEnum):
    LOGIN_SUCCEEDED = "login_succeeded"
    LOGIN_FAILED = "login_failed"  # detail: bad_password, unknown_account, inactive, locked
    LOCKOUT_STARTED = "lockout_started"  # detail: the hold in seconds
    # A signed-in session's check of the current password (the profile's password form)
    # failed: detail bad_password or locked. Kept apart from LOGIN_FAILED because the
    # guesser already holds a session of the account, which calls for ending it.
    CURRENT_PASSWORD_FAILED = "current_password_failed"  # noqa: S105 (an event name)
    LOGOUT = "logout"
    SESSION_ENDED = "session_ended"  # one session ended by id, from the session list
    LOGOUT_EVERYWHERE = "logout_everywhere"
    REGISTERED = "registered"
    ACTIVATED = "activated"  # the e-mail proven by a mailed key (and a pending account active)
    PROFILE_UPDATED = "profile_updated"  # detail: the names of what changed
    # detail "requested" (subject: the new address, mailed a key) or "changed" (subject:
    # the address given up, which is told so).
    EMAIL_CHANGED = "email_changed"
    RESET_REQUESTED = "reset_requested"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 (an event name)
    # A superuser opened a session of the account ("log in as"); actor_id: the superuser.
    # detail: "opened", or "refused_<why>".
    IMPERSONATION = "impersonation"
    ACCOUNT_DELETED = "account_deleted"  # detail: by_owner (the pages), or who else
    IMPORTED = "imported"  # detail: where from ("biostudies:3"); by `portcullis import`
    ADMIN_ACTION = "admin_action"  # detail: what was done; actor_id: the superuser, or none (CLI)
    # An access token's life; detail: "<id> <name>" (made), "<id>" (first used, revoked).
    TOKEN_CREATED = "token_created"  # noqa: S105 (an event name)
    TOKEN_FIRST_USED = "token_first_used"  # noqa: S105
    TOKEN_REVOKED = "token_revoked"  # noqa: S105
    SERVICE_ADDED = "service_added"  # a service account made; actor_id: the superuser


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One line of the audit trail. Holds names and addresses, never a secret."""

    kind: AuditKind
    at: datetime
    account_id: int | None = None
    subject: str | None = None  # the e-mail, or the name someone tried to sign in as
    detail: str | None = None
    actor_id: int | None = None
    client_address: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class Admission:
    """The lockout's answer to one password check, given before the password is hashed.

    ``retry_after`` > 0: refused (held back for that many seconds), nothing counted.
    Otherwise admitted and counted as a failure already; ``hold`` > 0 when this very
    attempt started a hold of that many seconds (it stands unless the password is right).
    """

    retry_after: int = 0
    hold: int = 0

    @property
    def admitted(self) -> bool:
        return self.retry_after == 0
