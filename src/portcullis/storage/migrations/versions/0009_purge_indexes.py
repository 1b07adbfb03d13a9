"""indexes the purges find lapsed rows by

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 18:20:00.000000

Each purge deletes rows past a time (a session's expiry or last use, a key's or a
token's expiry, an audit event's age). Without these it read the whole table to find
them: millions of sessions at a portal's scale.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = [
    ("ix_sessions_expires_at", "sessions", "expires_at"),
    ("ix_sessions_last_seen_at", "sessions", "last_seen_at"),
    ("ix_one_time_keys_expires_at", "one_time_keys", "expires_at"),
    ("ix_access_tokens_expires_at", "access_tokens", "expires_at"),
]


def upgrade() -> None:
    for name, table, column in INDEXES:
        op.create_index(name, table, [column], unique=False)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
