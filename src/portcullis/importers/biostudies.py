"""BioStudies' MySQL database: ``User``, ``AccessTag``, ``AccessPermission``.

The user keeps its ``secret`` and its id (as ``folder_id``): the profile's ``secret`` is
the folder path ``secret[0:2]/secret[2:]-a<id>``, which names folders on disk.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from portcullis.core.imports import ImportedAccount
from portcullis.core.models import AccessType, AccountStatus, KeyPurpose, Permission, StorageMode
from portcullis.hashing import legacy
from portcullis.importers.sources import connected, flag, rows, text, utc

SOURCE = "biostudies"
USER_COLUMNS = (
    "id",
    "email",
    "fullName",
    "login",
    "passwordDigest",
    "secret",
    "superuser",
    "active",
    "activationKey",
    "keyTime",
    "notificationsEnabled",
    "storageMode",
    "orcid",
    "auxProfileInfo",  # before 2022: where the ORCID iD was kept
    "lastActivity",
)
ORCID_IN_TEXT = re.compile(r"\d{4}-\d{4}-\d{4}-\d{3}[\dX]")
# The rows the service makes for itself: no password, never signed in to.
SYSTEM_NAMES = ("@Guest", "@System", "@Default")
SYSTEM_EMAILS = ("default_user@ebi.ac.uk",)


def read(url: str, now: datetime) -> list[ImportedAccount]:
    """Every user of the database at ``url`` with its permissions.

    Raises LookupError when a table is missing, and what sources.connected raises.
    """
    with connected(url) as connection:
        users = rows(connection, "User", USER_COLUMNS)
        tags = {r["id"]: text(r["name"]) for r in rows(connection, "AccessTag", ("id", "name"))}
        grants = rows(connection, "AccessPermission", ("access_type", "user_id", "access_tag_id"))
    permissions = _permissions(grants, tags)
    return [account_of(user, permissions.get(user["id"], ()), now) for user in users]


def _permissions(
    grants: list[dict[str, Any]], tags: Mapping[int, str]
) -> dict[int, tuple[Permission, ...]]:
    by_user: dict[int, list[Permission]] = defaultdict(list)
    for grant in grants:
        tag = tags.get(grant["access_tag_id"])
        access = text(grant["access_type"]).upper()
        if tag and access in AccessType.__members__:
            permission = Permission(AccessType(access), tag)
            if permission not in by_user[grant["user_id"]]:
                by_user[grant["user_id"]].append(permission)
    return {user: tuple(found) for user, found in by_user.items()}


def password_hash(digest: Any) -> str | None:
    """The stored form of ``passwordDigest``; None (set one by mail) when NULL or empty."""
    if not digest:
        return None
    raw = digest if isinstance(digest, bytes | bytearray) else str(digest).encode("latin-1")
    try:
        return legacy.biostudies_sha1(bytes(raw))
    except ValueError:
        return None


def account_of(
    user: Mapping[str, Any], permissions: tuple[Permission, ...], now: datetime
) -> ImportedAccount:
    active = flag(user.get("active"))
    key = text(user.get("activationKey")) or None
    # A key on an inactive user is its activation; on an active one, a reset it asked for.
    purpose = KeyPurpose.PASSWORD_RESET if active else KeyPurpose.ACTIVATION
    key_time = user.get("keyTime")
    return ImportedAccount(
        source_ref=f"{SOURCE}:{user['id']}",
        email=text(user.get("email")),
        username=text(user.get("login")) or None,
        full_name=text(user.get("fullName")),
        password_hash=password_hash(user.get("passwordDigest")),
        status=AccountStatus.ACTIVE if active else AccountStatus.PENDING,
        created_at=datetime.fromtimestamp(key_time / 1000, UTC) if key_time else now,
        superuser=flag(user.get("superuser")),
        email_verified=active,
        notifications_enabled=flag(user.get("notificationsEnabled")),
        storage_mode=StorageMode.FTP
        if text(user.get("storageMode")).upper() == "FTP"
        else StorageMode.NFS,
        orcid=text(user.get("orcid")) or orcid_in(text(user.get("auxProfileInfo"))),
        secret=text(user.get("secret")) or None,
        folder_id=int(user["id"]),
        last_activity_at=utc(user.get("lastActivity")),
        permissions=permissions,
        keys=((purpose, key),) if key else (),
        refused="system_account" if _is_system(user) else None,
    )


def orcid_in(aux_profile_info: str) -> str | None:
    """The ORCID iD in the older ``auxProfileInfo`` text, whatever its shape around it."""
    found = ORCID_IN_TEXT.search(aux_profile_info)
    return found.group(0) if found else None


def _is_system(user: Mapping[str, Any]) -> bool:
    names = (text(user.get("fullName")), text(user.get("login")), text(user.get("email")))
    return any(name in SYSTEM_NAMES for name in names) or names[2].lower() in SYSTEM_EMAILS
