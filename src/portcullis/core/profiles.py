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
from dataclasses import dataclass

from portcullis.core.accounts import USERNAME_TAKEN
from portcullis.core.audit import AuditTrail
from portcullis.core.errors import DuplicateAccount, InvalidInput
from portcullis.core.models import (
    Account,
    AuditEvent,
    AuditKind,
    Client,
    DialectFields,
    ProfileChange,
    Session,
)
from portcullis.core.ports import UnitOfWorkFactory
from portcullis.core.validation import name_problems, orcid_problems, username_problems

# One dialect's fields, as JSON: a profile, not a store for anything else.
MAX_DIALECT_FIELDS_BYTES = 4096
# An account's own events in its data download; a lifetime's worth for anyone but a bot.
MAX_EXPORTED_EVENTS = 10_000
TOO_MANY_FIELDS = f"A dialect's profile fields take at most {MAX_DIALECT_FIELDS_BYTES} bytes"


@dataclass(frozen=True, slots=True)
class AccountData:
    account: Account
    sessions: tuple[Session, ...]
    events: tuple[AuditEvent, ...]


class Profiles:
    def __init__(self, uow: UnitOfWorkFactory, audit: AuditTrail):
        self._uow = uow
        self._audit = audit

    async def update(
        self, account: Account, change: ProfileChange, client: Client | None = None
    ) -> Account:
        """Apply ``change`` to the account. Raises InvalidInput (every problem at once; a
        username another account holds is said so: the user has an account already)."""
        full_name = change.full_name.strip() if change.full_name is not None else None
        username = change.username.strip() if change.username is not None else None
        orcid = change.orcid.strip().upper() if change.orcid is not None else None
        problems = [*(name_problems(full_name) if full_name else [])]
        problems += username_problems(username or None) + orcid_problems(orcid)
        problems += _dialect_field_problems(change.dialect_fields)
        if problems:
            raise InvalidInput(problems)
        fields = {**account.dialect_fields, **change.dialect_fields}
        try:
            async with self._uow() as uow:
                await uow.accounts.set_profile(
                    account.id,
                    email=account.email,
                    full_name=full_name or account.full_name,
                    dialect_fields=fields,
                )
                if username is not None and username != (account.username or ""):
                    await uow.accounts.set_username(account.id, username or None)
                if orcid is not None and orcid != (account.orcid or ""):
                    await uow.accounts.set_orcid(account.id, orcid or None)
                event = self._audit.event(
                    AuditKind.PROFILE_UPDATED, client or Client(), account=account
                )
                await self._audit.write(uow, event)
                updated = await uow.accounts.by_id(account.id)
        except DuplicateAccount:
            raise InvalidInput([USERNAME_TAKEN]) from None
        assert updated is not None
        return updated

    async def data_of(self, account: Account) -> AccountData:
        """What the service holds of the account, for its owner to take away: the profile,
        the live sessions, and the audit trail's events of the account (newest first)."""
        async with self._uow(read_only=True) as uow:
            stored = await uow.accounts.by_id(account.id)
            sessions = await uow.sessions.list(account.id)
            events = await uow.audit.list(account.id, None, None, MAX_EXPORTED_EVENTS)
        return AccountData(stored or account, tuple(sessions), tuple(e for _, e in events))


def _dialect_field_problems(fields: Mapping[str, DialectFields]) -> list[str]:
    for values in fields.values():
        try:
            size = len(json.dumps(dict(values)).encode())
        except (TypeError, ValueError):
            return ["A dialect's profile fields must be JSON values"]
        if size > MAX_DIALECT_FIELDS_BYTES:
            return [TOO_MANY_FIELDS]
    return []
