"""usernames looked up and unique under one folded form

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 05:30:00.000000

Adds ``accounts.username_key``, ``canonical_login(username)`` (NFKC and case folding),
with a unique index: ``Alice``, ``ALICE`` and fullwidth ``Alice`` become one name.

Accounts made before this could hold names that fold to one key. They are never merged
(two people, two passwords, two sets of sessions and tags): the oldest account keeps the
key, and so the name as a login. Each younger one keeps its username for display and
everything else, but gets no key, so it signs in by e-mail only until an operator gives
it another username (``portcullis user rename``). The oldest wins because it most likely
is the one the name was known by first, and every sign-in by that name so far could have
reached only the exact spelling; a warning names the account ids so that an operator can
tell their owners.
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from portcullis.core.validation import MAX_USERNAME_LENGTH, canonical_login

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("portcullis.migrations")

_accounts = sa.table(
    "accounts",
    sa.column("id", sa.Integer()),
    sa.column("username", sa.String()),
    sa.column("username_key", sa.String()),
    sa.column("created_at", sa.BigInteger()),
)


def upgrade() -> None:
    op.add_column("accounts", sa.Column("username_key", sa.String(length=150), nullable=True))
    _fill_keys(op.get_bind())
    op.create_index(op.f("ix_accounts_username_key"), "accounts", ["username_key"], unique=True)


def _fill_keys(connection: sa.Connection) -> None:
    rows = connection.execute(
        sa.select(_accounts.c.id, _accounts.c.username)
        .where(_accounts.c.username.is_not(None))
        .order_by(_accounts.c.created_at, _accounts.c.id)
    )
    holder: dict[str, int] = {}
    for account_id, username in rows.all():
        key = canonical_login(username)
        if key in holder or len(key) > MAX_USERNAME_LENGTH:
            _report(account_id, username, holder.get(key))
            continue
        holder[key] = account_id
        connection.execute(
            sa.update(_accounts).where(_accounts.c.id == account_id).values(username_key=key)
        )


def _report(account_id: int, username: str, older_id: int | None) -> None:
    why = f"folds to the name of account {older_id}" if older_id else "is too long once folded"
    log.warning(
        "account %s: its username %r %s; it keeps the name for display but signs in by "
        "e-mail only until an operator gives it another (portcullis user rename)",
        account_id,
        username,
        why,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_accounts_username_key"), table_name="accounts")
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.drop_column("username_key")
