"""what BioStudies' clients read: storage modes, access types, sessions opened as a user

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 06:00:00.000000

- ``accounts.storage_mode``: "nfs" or "ftp", where the user's files live (the profile's
  ``uploadType``). Every existing account is "nfs", BioStudies' own default.
- ``accounts.permissions`` replaces ``accounts.access_tags``: each grant is an access tag
  with its access type (``{"access": "READ", "tag": "S-BSST1"}``). Every existing tag
  becomes a READ permission, which is what a tag meant until now.
- ``sessions.opened_by``: the e-mail of the superuser who opened the session on its
  owner's behalf ("log in as"), NULL for sessions their owners opened.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_accounts = sa.table(
    "accounts",
    sa.column("id", sa.Integer()),
    sa.column("access_tags", sa.JSON()),
    sa.column("permissions", sa.JSON()),
)


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.add_column(
            sa.Column("storage_mode", sa.String(length=8), nullable=False, server_default="nfs")
        )
        batch_op.add_column(sa.Column("permissions", sa.JSON(), nullable=True))
    connection = op.get_bind()
    for account_id, tags in connection.execute(sa.select(_accounts.c.id, _accounts.c.access_tags)):
        permissions = [{"access": "READ", "tag": tag} for tag in tags or ()]
        _set(connection, account_id, permissions=permissions)
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.alter_column("permissions", existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column("access_tags")
    op.add_column("sessions", sa.Column("opened_by", sa.String(length=254), nullable=True))


def downgrade() -> None:
    # Only READ permissions have a place in the old schema: the others are lost.
    with op.batch_alter_table("sessions") as batch_op:
        batch_op.drop_column("opened_by")
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.add_column(sa.Column("access_tags", sa.JSON(), nullable=True))
    connection = op.get_bind()
    for account_id, permissions in connection.execute(
        sa.select(_accounts.c.id, _accounts.c.permissions)
    ):
        tags = [p["tag"] for p in permissions or () if p["access"] == "READ"]
        _set(connection, account_id, access_tags=tags)
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.alter_column("access_tags", existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column("permissions")
        batch_op.drop_column("storage_mode")


def _set(connection: sa.Connection, account_id: int, **values: Any) -> None:
    connection.execute(sa.update(_accounts).where(_accounts.c.id == account_id).values(**values))
