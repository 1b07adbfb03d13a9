"""The Django Track Hub Registry: ``users_customuser`` and ``authtoken_token``, read from
its database or from ``manage.py dumpdata`` JSON."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from portcullis.core.imports import ImportedAccount
from portcullis.core.models import AccountStatus
from portcullis.hashing import legacy
from portcullis.http.trackhub_profile import CHECK_INTERVALS, DIALECT, full_name_of, with_names
from portcullis.importers.sources import connected, flag, rows, text, utc

SOURCE = "thr"
USER_COLUMNS = (
    "id",
    "password",
    "last_login",
    "is_superuser",
    "username",
    "email",
    "is_active",
    "date_joined",
    "first_name",
    "last_name",
    "affiliation",
    "check_interval",
    "continuous_alert",
    "is_account_activated",
)
PERL_HASH_LENGTH = 43
PERL_TAG = legacy.tagged(legacy.THR_PERL, "")


def read(url_or_file: str, now: datetime, salt: str | None = None) -> list[ImportedAccount]:
    """Every user, with its API token. Raises LookupError when a table (or, in JSON, every
    user record) is missing, ValueError for JSON that is not dumpdata's."""
    if url_or_file.endswith(".json"):
        users, tokens = _from_dumpdata(Path(url_or_file))
    else:
        with connected(url_or_file) as connection:
            users = rows(connection, "users_customuser", USER_COLUMNS)
            tokens = rows(connection, "authtoken_token", ("key", "user_id"))
    token_of = {token["user_id"]: text(token["key"]) for token in tokens}
    return [account_of(user, token_of.get(user["id"]), now, salt) for user in users]


def _from_dumpdata(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    records = orjson.loads(path.read_bytes())
    if not isinstance(records, list):
        raise ValueError(f"{path}: not manage.py dumpdata's JSON (a list of records)")
    users, tokens = [], []
    for record in records:
        fields = dict(record.get("fields", {}))
        if record.get("model") == "users.customuser":
            users.append({**fields, "id": record["pk"]})
        elif record.get("model") == "authtoken.token":
            tokens.append({"key": record["pk"], "user_id": fields.get("user")})
    if not users:
        raise LookupError(f"{path}: no users.customuser records")
    return users, tokens


def password_hash(field: str, salt: str | None) -> str | None:
    """Django's password field as stored here; None when unusable (``!…``, empty), or a
    Perl hash carried over without the salt to check it by."""
    if not field or field.startswith("!"):
        return None
    if "$" in field:
        return legacy.django(field)
    if len(field) == PERL_HASH_LENGTH and salt is not None:
        return legacy.thr_perl(salt, field)
    return None


def may_sign_in(user: Mapping[str, Any], password: str | None) -> bool:
    """``is_active``; and a row carried over from the Perl registry, which Django kept
    inactive only because it could not check its hash: with the salt, it can be."""
    return flag(user.get("is_active")) or (password or "").startswith(PERL_TAG)


def account_of(
    user: Mapping[str, Any], token: str | None, now: datetime, salt: str | None
) -> ImportedAccount:
    first, last = text(user.get("first_name")), text(user.get("last_name"))
    password = password_hash(text(user.get("password")), salt)
    full_name = full_name_of(first, last)
    interval = text(user.get("check_interval"))
    own = {
        "affiliation": text(user.get("affiliation")),
        "check_interval": interval if interval in CHECK_INTERVALS else CHECK_INTERVALS[0],
        "continuous_alert": flag(user.get("continuous_alert")),
    }
    return ImportedAccount(
        source_ref=f"{SOURCE}:{user['id']}",
        email=text(user.get("email")),
        username=text(user.get("username")) or None,
        full_name=full_name,
        password_hash=password,
        status=AccountStatus.ACTIVE if may_sign_in(user, password) else AccountStatus.DISABLED,
        created_at=utc(user.get("date_joined")) or now,
        superuser=flag(user.get("is_superuser")),
        email_verified=flag(user.get("is_account_activated")),
        last_activity_at=utc(user.get("last_login")),
        dialect_fields={DIALECT: with_names(own, first, last, full_name)},
        tokens=(token,) if token else (),
    )
