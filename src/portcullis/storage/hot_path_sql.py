"""The hot path's statements and how their rows become the core's values.

Built from constants only; every value is a bound parameter. Kept apart from hot_path.py,
which runs them (on plain sqlite3, or prepared on asyncpg connections).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from portcullis.core.memo import Memo
from portcullis.core.models import (
    AccessToken,
    Account,
    AccountStatus,
    AuditEvent,
    Session,
    StorageMode,
)
from portcullis.core.validation import canonical_login
from portcullis.storage.stores import (
    dialect_fields_of,
    epoch,
    from_epoch,
    json_list,
    permissions_of,
)
from portcullis.storage.token_store import TOKEN_COLUMNS, token_from_columns

ACCOUNT_COLUMNS = """a.email, a.username, a.full_name, a.orcid, a.secret, a.status, a.superuser,
       a.notifications_enabled, a.permissions, a.deny_tags, a.created_at,
       a.last_activity_at, a.storage_mode, a.email_verified, a.dialect_fields, a.service,
       a.folder_id"""

# These are built from constants only; every value is a bound parameter. Each row ends
# with its token hash: on PostgreSQL the token checks waiting at one moment share one
# query (GatheredLookups), and each check is handed the row of its own token.
SESSION_ROWS = """FROM sessions AS s JOIN accounts AS a ON a.id = s.account_id
WHERE s.token_hash {match}"""
SESSION_QUERY = f"""
SELECT s.account_id, s.id, s.created_at, s.last_seen_at, s.expires_at,
       s.client_address, s.user_agent, s.opened_by, s.api_token, {ACCOUNT_COLUMNS},
       {{versions}}s.token_hash
{SESSION_ROWS}
"""

SESSION_QUERY_SQLITE = SESSION_QUERY.format(match="= ?", versions="")

# An access token is checked the same way: one indexed read, its account joined.
TOKEN_FIELDS = ", ".join(f"t.{name.strip()}" for name in TOKEN_COLUMNS.split(","))
TOKEN_WIDTH = len(TOKEN_COLUMNS.split(","))
# On PostgreSQL the checks waiting at one moment share one query, as the sessions' do.
TOKEN_ROWS = """FROM access_tokens AS t JOIN accounts AS a ON a.id = t.account_id
WHERE t.token_hash {match}"""  # noqa: S105 (a statement, not a secret)
TOKEN_QUERY = f"""
SELECT {TOKEN_FIELDS}, {ACCOUNT_COLUMNS}, {{versions}}t.token_hash
{TOKEN_ROWS}
"""
TOKEN_QUERY_SQLITE = TOKEN_QUERY.format(match="= ?", versions="")
TOKEN_USED = "UPDATE access_tokens SET last_used_at = {0} WHERE id = {1}"  # noqa: S105

# On PostgreSQL a check first asks only which version of its two rows is current: every
# update writes a new row version, whose xmin is the writing transaction's id. While
# both are those of the rows read before, those rows are what is on disk now, and their
# thirty columns are neither sent nor decoded again.
ANY_OF = "= ANY($1::bytea[])"
# Each read also says which snapshot it was made at (the statement's own): what was
# committed then. Two equal snapshots mean nothing committed between them.
SNAPSHOT = "pg_current_snapshot()::text"
CURRENT_SNAPSHOT_PG = f"SELECT {SNAPSHOT}"
SESSION_VERSIONS_PG = f"SELECT {SNAPSHOT}, s.token_hash, s.xmin, a.xmin\n" + SESSION_ROWS.format(
    match=ANY_OF
)
TOKEN_VERSIONS_PG = f"SELECT {SNAPSHOT}, t.token_hash, t.xmin, a.xmin\n" + TOKEN_ROWS.format(
    match=ANY_OF
)
# Then the whole rows of those that differ, with the versions they are: a row changed
# between the two reads is kept as the version it was read at.
SESSIONS_QUERY_PG = SESSION_QUERY.format(match=ANY_OF, versions=f"{SNAPSHOT}, s.xmin, a.xmin, ")
TOKENS_QUERY_PG = TOKEN_QUERY.format(match=ANY_OF, versions=f"{SNAPSHOT}, t.xmin, a.xmin, ")

# Signing in reads the account the same lean way: on SQLite this read then takes no
# write lock, so concurrent logins in several workers do not queue behind each other.
ACCOUNT_QUERY = f"""
SELECT a.id, a.password_hash, {ACCOUNT_COLUMNS}
FROM accounts AS a WHERE a.{{column}} = {{placeholder}}
"""  # noqa: S608


# Signing in writes three rows in one transaction. Through SQLAlchemy's unit of work
# (a begin, three statements and a commit, each a round trip through its async adapter)
# this cost more CPU than the rest of a sign-in outside the hash (cProfile, 400 logins:
# Sessions.open 0.28 of 0.96 s on SQLite, 0.31 of 0.91 s on PostgreSQL).
SESSION_COLUMNS = """id, token_hash, account_id, created_at, last_seen_at, expires_at,
    client_address, user_agent, opened_by"""
AUDIT_COLUMNS = "at, kind, account_id, subject, detail, actor_id, client_address, user_agent"
# A first use is recorded once however many checks race to it: only the update that
# found the token unused writes the audit row (SQLite: changes() counts that update).
FIRST_USE_SQLITE = (
    "UPDATE access_tokens SET last_used_at = ? WHERE id = ? AND last_used_at IS NULL",
    f"INSERT INTO audit_log ({AUDIT_COLUMNS}) SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE changes() = 1",
)

START_SQLITE = (
    f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
    "UPDATE accounts SET last_activity_at = ? WHERE id = ?",
    f"INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
)

# A token check records activity at most once a minute per session, on the same path.
TOUCH_SQLITE = (
    "UPDATE sessions SET last_seen_at = ? WHERE id = ?",
    "UPDATE accounts SET last_activity_at = ? WHERE id = ?",
)
TOUCH_PG = """
WITH seen AS (UPDATE sessions SET last_seen_at = $1 WHERE id = $2)
UPDATE accounts SET last_activity_at = $1 WHERE id = $3
"""

# PostgreSQL takes the three as one statement: one round trip, one implicit transaction.
START_PG = f"""
WITH new_session AS (
    INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
), activity AS (
    UPDATE accounts SET last_activity_at = $4 WHERE id = $3
)
INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES ($10, $11, $12, $13, $14, $15, $16, $17)
"""  # noqa: S608


FIRST_USE_PG = f"""
WITH used AS (
    UPDATE access_tokens SET last_used_at = $1 WHERE id = $2 AND last_used_at IS NULL
    RETURNING id
)
INSERT INTO audit_log ({AUDIT_COLUMNS})
SELECT $3::bigint, $4::text, $5::int, $6::text, $7::text, $8::int, $9::text, $10::text FROM used
"""  # noqa: S608


def audit_row(event: AuditEvent) -> tuple[Any, ...]:
    """The audit event's row, in ``AUDIT_COLUMNS`` order."""
    return (
        epoch(event.at),
        event.kind.value,
        event.account_id,
        event.subject,
        event.detail,
        event.actor_id,
        event.client_address,
        event.user_agent,
    )


def start_values(
    session: Session, token_hash: bytes, event: AuditEvent
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The new session's row and the audit event's row, in their columns' order."""
    return (
        (
            session.id,
            token_hash,
            session.account_id,
            epoch(session.created_at),
            epoch(session.last_seen_at),
            epoch(session.expires_at),
            session.client_address,
            session.user_agent,
            session.opened_by,
        ),
        audit_row(event),
    )


def account_from_columns(
    account_id: int, columns: Any, password_hash: str | None = None
) -> Account:
    """The account whose ``ACCOUNT_COLUMNS`` are ``columns``, in their order."""
    return Account(
        id=account_id,
        email=columns[0],
        username=columns[1],
        full_name=columns[2],
        orcid=columns[3],
        secret=columns[4],
        status=AccountStatus(columns[5]),
        superuser=bool(columns[6]),
        notifications_enabled=bool(columns[7]),
        permissions=permissions_of(columns[8]),
        deny_tags=tuple(json_list(columns[9])),
        created_at=from_epoch(columns[10]),
        last_activity_at=from_epoch(columns[11]) if columns[11] else None,
        storage_mode=StorageMode(columns[12]),
        password_hash=password_hash,
        email_verified=bool(columns[13]),
        dialect_fields=dialect_fields_of(columns[14]),
        service=bool(columns[15]),
        folder_id=columns[16],
    )


Made = TypeVar("Made")


class RowMemo(Generic[Made]):
    """What ``convert`` made of each token's row last, made again only when the row changes.

    A token is checked again and again and its row seldom changes (its activity, once a
    minute), yet making a Session and an Account of it (frozen dataclasses of thirty
    fields, enums, JSON, datetimes) cost more than reading it: 36 µs a row against
    1 µs to compare it with the row before. The row is still read at every check, so a
    revoked token, a disabled account or any edit is seen at once: a row that differs
    in any column is converted anew. Sharing the values between checks is safe: they are
    frozen dataclasses of immutable values, but for the dialect fields' dict, which no
    caller changes (a changed account is a new Account, through ``replace``).
    """

    def __init__(self, convert: Callable[[Any], Made]):
        self._convert = convert
        self._made: Memo[bytes, Made] = Memo()  # by token hash, the row's last column

    def __call__(self, row: Any) -> Made:
        made = self._made.get(row[-1], row)
        if made is None:
            made = self._made.keep(row[-1], self._convert(row), row)
        return made


def session_and_account(row: Any) -> tuple[Session, Account]:
    session = Session(
        id=row[1],
        account_id=row[0],
        created_at=from_epoch(row[2]),
        last_seen_at=from_epoch(row[3]),
        expires_at=from_epoch(row[4]),
        client_address=row[5],
        user_agent=row[6],
        opened_by=row[7],
        api_token=bool(row[8]),
    )
    return session, account_from_columns(row[0], row[9:])


def token_and_account(row: Any) -> tuple[AccessToken, Account]:
    token = token_from_columns(row[:TOKEN_WIDTH])
    return token, account_from_columns(token.account_id, row[TOKEN_WIDTH:])


def login_account(row: Any) -> Account:
    return account_from_columns(row[0], row[2:], password_hash=row[1])


def login_query(login: str, placeholder: str) -> str:
    column = "email" if "@" in login else "username_key"
    return ACCOUNT_QUERY.format(column=column, placeholder=placeholder)


def login_value(login: str) -> str:
    """E-mails are stored lower-cased; usernames are found by their folded key alone."""
    return login.lower() if "@" in login else canonical_login(login)
