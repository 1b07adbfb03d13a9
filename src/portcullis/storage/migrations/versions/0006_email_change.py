"""the new address an e-mail change waits to have proven

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 13:45:00.000000

- ``one_time_keys.new_email``: for a key of purpose ``email_change``, the address it was
  mailed to. The account's e-mail becomes that address only when the key comes back, so
  an address is never taken on a signed-in user's word alone. NULL for other purposes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("one_time_keys") as batch_op:
        batch_op.add_column(sa.Column("new_email", sa.String(254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("one_time_keys") as batch_op:
        batch_op.drop_column("new_email")
