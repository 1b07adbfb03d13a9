"""indexes the paged lists of sessions, tokens and service accounts read by

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 09:00:00.000000

A session or token list is newest first, a page at a time from a cursor naming the last
row shown (core/paging.py). On (account_id, created_at, id) a page is read straight off
the index, however deep, with no sort; that index also serves every lookup by
account_id alone, so the single-column ones go. The service accounts are a handful
among all accounts: (service, id) finds them without reading every account.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REPLACED = [
    ("ix_sessions_account_id", "ix_sessions_account_id_created_at_id", "sessions"),
    ("ix_access_tokens_account_id", "ix_access_tokens_account_id_created_at_id", "access_tokens"),
]
LIST_COLUMNS = ["account_id", "created_at", "id"]


def upgrade() -> None:
    for old, new, table in REPLACED:
        op.create_index(new, table, LIST_COLUMNS, unique=False)
        op.drop_index(old, table_name=table)
    op.create_index("ix_accounts_service_id", "accounts", ["service", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_accounts_service_id", table_name="accounts")
    for old, new, table in reversed(REPLACED):
        op.create_index(old, table, ["account_id"], unique=False)
        op.drop_index(new, table_name=table)
