"""The schema. Alembic migrations are the only way it changes; tests check they agree."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    false,
)

# Times are whole seconds since the epoch: one representation on every engine and driver,
# cheap to compare on the token-check path.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False, unique=True),  # stored lower-cased
    # ``username`` as its owner spelled it, for display; ``username_key`` is
    # core.validation.canonical_login(username), the form every lookup and the uniqueness
    # go by. NULL for an account with no username, or one whose name clashed with an
    # older account's when migration 0003 made the key (it signs in by e-mail only).
    Column("username", String(150), nullable=True, unique=True),
    Column("username_key", String(150), nullable=True),
    Column("full_name", String(255), nullable=False),
    Column("orcid", String(32), nullable=True),
    Column("password_hash", String(255), nullable=True),
    Column("secret", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("superuser", Boolean, nullable=False, default=False),
    Column("notifications_enabled", Boolean, nullable=False, default=False),
    # Each an access tag and its access type: [{"access": "READ", "tag": "S-BSST1"}, ...].
    Column("permissions", JSON, nullable=False),
    Column("deny_tags", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("last_activity_at", BigInteger, nullable=True),
    Column("storage_mode", String(8), nullable=False, server_default="nfs"),  # nfs, ftp
    # Proven by a mailed key; apart from ``status``, which says whether it may sign in.
    Column("email_verified", Boolean, nullable=False, server_default=false()),
    # Each dialect's own fields under its name ({"trackhub": {"affiliation": ...}}); NULL
    # is none. Opaque to the core: a dialect adds fields without a migration.
    Column("dialect_fields", JSON, nullable=True),
    # A service account: no password, no pages, only access tokens.
    Column("service", Boolean, nullable=False, server_default=false()),
    # The id another service built the folder path with; NULL is this row's own id.
    Column("folder_id", BigInteger, nullable=True),
    # Where an import found the account ("biostudies:3"), so a second run skips it.
    Column("imported_from", String(96), nullable=True),
    Index(None, "username_key", unique=True),
    Index(None, "imported_from", unique=True),
    Index(None, "service", "id"),  # the few service accounts, by id, among millions
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("token_hash", LargeBinary(32), nullable=False, unique=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("last_seen_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("client_address", String(64), nullable=True),
    Column("user_agent", String(512), nullable=True),
    # The superuser who opened it on the owner's behalf, by e-mail: kept as it was then,
    # for the owner's session list (the audit trail has the superuser's id).
    Column("opened_by", String(254), nullable=True),
    # An imported API token: ended by its lifetime only, never for being idle.
    Column("api_token", Boolean, nullable=False, server_default=false()),
    # A session list's order (newest first) and its pages' keyset; also any lookup by
    # account alone, as its first column.
    Index(None, "account_id", "created_at", "id"),
    Index(None, "expires_at"),  # the purge's
    Index(None, "last_seen_at"),  # the purge's, for idle sessions
)

# Personal and service access tokens: long-lived, named, scoped; the token itself is
# never stored, only its keyed hash. ``id`` is the public handle a list shows.
access_tokens = Table(
    "access_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("token_hash", LargeBinary(32), nullable=False, unique=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),  # personal, service
    Column("name", String(100), nullable=False),
    Column("scope", String(16), nullable=False),  # read, full
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("last_used_at", BigInteger, nullable=True),  # NULL: never used
    Index(None, "account_id", "created_at", "id"),  # as the sessions' (a list's pages)
    Index(None, "expires_at"),  # the purge's
)

one_time_keys = Table(
    "one_time_keys",
    metadata,
    Column("key_hash", LargeBinary(32), primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    # For an e-mail change: the address the key was mailed to, taken once the key is back.
    Column("new_email", String(254), nullable=True),
    Index(None, "account_id", "purpose"),
    Index(None, "expires_at"),  # the purge's
)

# Mail waits here, written in the same transaction as the change that causes it.
# ``payload`` (which may hold a link with a key) is sealed, and cleared once the mail is sent.
mail_outbox = Table(
    "mail_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(64), nullable=False),
    Column("recipient", String(254), nullable=False),
    Column("payload", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("claimed_until", BigInteger, nullable=True),
    Column("sent_at", BigInteger, nullable=True),
    Column("last_error", Text, nullable=True),
    Index(None, "sent_at", "next_attempt_at"),
)

# Append-only: the service inserts and reads, nothing updates; rows go only when older
# than PORTCULLIS_AUDIT_RETENTION_DAYS. No foreign key, so the trail outlives whatever
# it speaks of. Never a password, token or key in here.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("account_id", Integer, nullable=True),
    Column("subject", String(254), nullable=True),
    Column("detail", String(255), nullable=True),
    Column("actor_id", Integer, nullable=True),
    Column("client_address", String(64), nullable=True),
    Column("user_agent", String(512), nullable=True),
    Index(None, "account_id", "at"),
    Index(None, "at"),
)
