"""The Perl Track Hub Registry: ``users``, ``roles``, ``user_roles`` (MySQL or SQLite).

No active flag and no creation time there: every user is active, made at the import.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from portcullis.core.imports import ImportedAccount
from portcullis.core.models import AccountStatus
from portcullis.hashing import legacy
from portcullis.http.trackhub_profile import CHECK_INTERVALS, DIALECT, full_name_of, with_names
from portcullis.importers.sources import connected, flag, rows, text

SOURCE = "thr-perl"
USER_COLUMNS = (
    "user_id",
    "username",
    "first_name",
    "last_name",
    "email",
    "password",
    "continuous_alert",
    "affiliation",
    "check_interval",
    "auth_key",
)


def read(url: str, salt: str, now: datetime) -> list[ImportedAccount]:
    """Every user, superuser where it holds the role ``admin``, its ``auth_key`` a token.

    Raises LookupError when a table is missing, and what sources.connected raises.
    """
    with connected(url) as connection:
        users = rows(connection, "users", USER_COLUMNS)
        roles = {
            r["role_id"]: text(r["name"]) for r in rows(connection, "roles", ("role_id", "name"))
        }
        held = rows(connection, "user_roles", ("user_id", "role_id"))
    admins = {r["user_id"] for r in held if roles.get(r["role_id"]) == "admin"}
    return [account_of(user, user["user_id"] in admins, salt, now) for user in users]


def check_interval(value: Any) -> str:
    """The Perl registry kept a number; its meaning is not in the public code, so only a
    name the Django registry knows is kept."""
    name = text(value)
    return name if name in CHECK_INTERVALS else CHECK_INTERVALS[0]


def account_of(user: Mapping[str, Any], admin: bool, salt: str, now: datetime) -> ImportedAccount:
    first, last = text(user.get("first_name")), text(user.get("last_name"))
    full_name = full_name_of(first, last)
    own = {
        "affiliation": text(user.get("affiliation")),
        "check_interval": check_interval(user.get("check_interval")),
        "continuous_alert": flag(user.get("continuous_alert")),
    }
    stored = text(user.get("password"))
    token = text(user.get("auth_key"))
    return ImportedAccount(
        source_ref=f"{SOURCE}:{user['user_id']}",
        email=text(user.get("email")),
        username=text(user.get("username")) or None,
        full_name=full_name,
        password_hash=legacy.thr_perl(salt, stored) if stored else None,
        status=AccountStatus.ACTIVE,
        created_at=now,
        superuser=admin,
        dialect_fields={DIALECT: with_names(own, first, last, full_name)},
        tokens=(token,) if token else (),
    )
