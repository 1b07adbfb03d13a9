"""A signed-in user's own profile: the name and each dialect's own fields.

The e-mail is not changed here but by email_change, which first proves the new address.

The core knows the fields every dialect shares (e-mail, full name). A dialect's other
fields (the Track Hub Registry's affiliation, check interval, ...) are kept under the
dialect's name in ``Account.dialect_fields`` as the dialect gives them: the core checks
only that they are few and small, and never reads them. So a dialect grows its profile
without a change here or in the schema, and no dialect sees another's fields unless it
asks by name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from portcullis.core.audit import AuditTrail
from portcullis.core.errors import InvalidInput
from portcullis.core.models import Account, AuditKind, Client, DialectFields, ProfileChange
from portcullis.core.ports import UnitOfWorkFactory
from portcullis.core.validation import name_problems

# One dialect's fields, as JSON: a profile, not a store for anything else.
MAX_DIALECT_FIELDS_BYTES = 4096
TOO_MANY_FIELDS = f"A dialect's profile fields take at most {MAX_DIALECT_FIELDS_BYTES} bytes"


class Profiles:
    def __init__(self, uow: UnitOfWorkFactory, audit: AuditTrail):
        self._uow = uow
        self._audit = audit

    async def update(
        self, account: Account, change: ProfileChange, client: Client | None = None
    ) -> Account:
        """Apply ``change`` to the account. Raises InvalidInput (every problem at once)."""
        full_name = change.full_name.strip() if change.full_name is not None else None
        problems = [*(name_problems(full_name) if full_name else [])]
        problems += _dialect_field_problems(change.dialect_fields)
        if problems:
            raise InvalidInput(problems)
        fields = {**account.dialect_fields, **change.dialect_fields}
        async with self._uow() as uow:
            await uow.accounts.set_profile(
                account.id,
                email=account.email,
                full_name=full_name or account.full_name,
                dialect_fields=fields,
            )
            event = self._audit.event(
                AuditKind.PROFILE_UPDATED,
                client or Client(),
                account=account,
            )
            await self._audit.write(uow, event)
            updated = await uow.accounts.by_id(account.id)
        assert updated is not None
        return updated


def _dialect_field_problems(fields: Mapping[str, DialectFields]) -> list[str]:
    for values in fields.values():
        try:
            size = len(json.dumps(dict(values)).encode())
        except (TypeError, ValueError):
            return ["A dialect's profile fields must be JSON values"]
        if size > MAX_DIALECT_FIELDS_BYTES:
            return [TOO_MANY_FIELDS]
    return []
