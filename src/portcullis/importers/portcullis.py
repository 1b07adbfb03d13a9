"""Portcullis' own export (JSON lines) and reading it back, so an operator can move on.

Without ``--with-hashes`` no password hash and no folder secret leave the database; such
an export brings accounts whose users set a password by mail, with new folders.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from portcullis.core.imports import ImportedAccount
from portcullis.core.models import AccessType, Account, AccountStatus, Permission, StorageMode

SOURCE = "portcullis"


def line_of(account: Account, with_hashes: bool) -> str:
    """One account as a JSON object on one line."""
    record: dict[str, Any] = {
        "id": account.id,
        "email": account.email,
        "username": account.username,
        "full_name": account.full_name,
        "orcid": account.orcid,
        "status": account.status.value,
        "superuser": account.superuser,
        "notifications_enabled": account.notifications_enabled,
        "email_verified": account.email_verified,
        "storage_mode": account.storage_mode.value,
        "permissions": [{"access": p.access.value, "tag": p.tag} for p in account.permissions],
        "created_at": account.created_at.isoformat(),
        "last_activity_at": account.last_activity_at.isoformat()
        if account.last_activity_at
        else None,
        "folder_id": account.id if account.folder_id is None else account.folder_id,
        "dialect_fields": dict(account.dialect_fields),
    }
    if with_hashes:
        record["password_hash"] = account.password_hash
        record["secret"] = account.secret
    return orjson.dumps(record).decode()


def read(path: Path, now: datetime) -> list[ImportedAccount]:
    """Every account of an export. Raises ValueError for a line that is not one."""
    accounts = []
    with path.open("rb") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                accounts.append(account_of(orjson.loads(line), now))
            except (KeyError, TypeError, orjson.JSONDecodeError) as error:
                raise ValueError(f"{path}:{number}: not an exported account ({error})") from None
    return accounts


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).astimezone(UTC) if value else None


def account_of(record: Mapping[str, Any], now: datetime) -> ImportedAccount:
    has_secret = bool(record.get("secret"))
    return ImportedAccount(
        source_ref=f"{SOURCE}:{record['id']}",
        email=record["email"],
        username=record.get("username"),
        full_name=record.get("full_name") or "",
        password_hash=record.get("password_hash") or None,
        status=AccountStatus(record["status"]),
        created_at=_time(record.get("created_at")) or now,
        superuser=bool(record.get("superuser")),
        email_verified=bool(record.get("email_verified")),
        notifications_enabled=bool(record.get("notifications_enabled")),
        storage_mode=StorageMode(record.get("storage_mode", "nfs")),
        orcid=record.get("orcid"),
        secret=record.get("secret") if has_secret else None,
        # A folder is only named by its secret and id together.
        folder_id=record.get("folder_id") if has_secret else None,
        last_activity_at=_time(record.get("last_activity_at")),
        permissions=tuple(
            Permission(AccessType(p["access"]), p["tag"]) for p in record.get("permissions", ())
        ),
        dialect_fields=dict(record.get("dialect_fields") or {}),
    )
