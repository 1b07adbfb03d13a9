"""the e-mail's verification apart from signing in; each dialect's own profile fields

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 07:00:00.000000

- ``accounts.email_verified``: whether a mailed key has proven the address. Until now
  "active" stood for both; an account that is not pending has had its address proven
  (or was vouched for by an operator), so it starts verified, a pending one not.
- ``accounts.dialect_fields``: JSON, each dialect's own fields under its name (the Track
  Hub Registry's affiliation, check_interval, ...); NULL for none.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_accounts = sa.table(
    "accounts",
    sa.column("status", sa.String()),
    sa.column("email_verified", sa.Boolean()),
)


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.add_column(
            sa.Column("email_verified", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("dialect_fields", sa.JSON(), nullable=True))
    op.execute(
        sa.update(_accounts).where(_accounts.c.status != "pending").values(email_verified=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.drop_column("dialect_fields")
        batch_op.drop_column("email_verified")
