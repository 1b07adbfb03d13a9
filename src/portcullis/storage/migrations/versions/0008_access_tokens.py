"""personal access tokens, service accounts

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 14:00:00.000000

- ``access_tokens``: a person's or a service's named, expiring, scoped tokens, each
  stored as its keyed hash only; ``last_used_at`` NULL until first use.
- ``accounts.service``: an account that has no password and no pages, only tokens.

Revises 0006: another branch adds 0007; the two are chained when they meet.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_tokens",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("last_used_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name="fk_access_tokens_account_id_accounts",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_access_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_access_tokens_token_hash"),
    )
    op.create_index("ix_access_tokens_account_id", "access_tokens", ["account_id"])
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.add_column(
            sa.Column("service", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.drop_column("service")
    op.drop_index("ix_access_tokens_account_id", table_name="access_tokens")
    op.drop_table("access_tokens")
