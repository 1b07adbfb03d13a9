"""what an import keeps of where an account came from

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 14:00:00.000000

- ``accounts.folder_id``: the id the account's folder path was built with
  (``secret[0:2]/secret[2:]-a<id>``) when another service gave it that id: BioStudies'
  folders on disk carry it. NULL means the account's own id.
- ``accounts.imported_from``: the source and the row's id there (``biostudies:3``), so an
  import run again, or resumed after a kill, knows what it brought already. Unique.
- ``sessions.api_token``: a session made from another service's API token (the registry's
  ``authtoken_token``): scripts use it now and then, so the idle limit does not end it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.add_column(sa.Column("folder_id", sa.BigInteger, nullable=True))
        batch_op.add_column(sa.Column("imported_from", sa.String(96), nullable=True))
        batch_op.create_index("ix_accounts_imported_from", ["imported_from"], unique=True)
    with op.batch_alter_table("sessions") as batch_op:
        batch_op.add_column(
            sa.Column("api_token", sa.Boolean, nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch_op:
        batch_op.drop_column("api_token")
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.drop_index("ix_accounts_imported_from")
        batch_op.drop_column("imported_from")
        batch_op.drop_column("folder_id")
