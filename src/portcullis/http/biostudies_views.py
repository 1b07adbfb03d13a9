"""What the BioStudies dialect shows of accounts, sessions and the audit trail.

The profile and the user record are decoded whole by BioStudies' own clients (the Kotlin
``bio-webclient`` with Jackson's Kotlin module): every field they read is present, with
the type they expect, or their login fails. Extra fields are ignored by them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from portcullis.core.folders import Folders
from portcullis.core.memo import Memo
from portcullis.core.models import Account, AuditEvent, Session


def local_date_time(at: datetime) -> str:
    """A Java ``LocalDateTime`` in UTC, as the real service writes it: no offset, and
    always microseconds (``2026-12-02T03:05:49.406259``). Jackson's LocalDateTime
    refuses an offset such as ``+00:00``."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def profile(account: Account, token: str, folders: Folders) -> dict[str, Any]:
    """The seed page's profile fields, with ``orcid``, ``uploadType`` and ``lastActivity``
    as the current service sends them (``orcid`` a string, ``""`` when none)."""
    orcid = account.orcid or ""
    # Set by every sign-in; an account that never signed in has been active since it
    # was made.
    last_activity = account.last_activity_at or account.created_at
    return {
        "sessid": token,
        "email": account.email,
        "username": account.username,
        "secret": folders.of(account).path,
        "fullname": account.full_name,
        "superuser": account.superuser,
        "allow": [account.email, "Public", *account.access_tags],
        "deny": list(account.deny_tags),
        "aux": {"orcid": orcid},
        "orcid": orcid,
        "uploadType": account.storage_mode.value,
        "lastActivity": local_date_time(last_activity),
    }


class ProfileBodies:
    """The profile's JSON, all but its first field made once while the account stays the same.

    Every token check answers with its account's profile, and a portal's users check
    again and again: building and encoding the fields (a date formatted, the folder
    named, the tags listed) cost more than the rest of the answer. ``sessid`` comes
    first, so the token is spliced in front of the account's part, encoded by orjson as
    the whole was: the bytes are those of ``orjson.dumps(profile(...))``. The tokens
    themselves are not kept.
    """

    def __init__(self, folders: Folders):
        self._folders = folders
        self._rest: Memo[int, bytes] = Memo()  # by account id

    def of(self, account: Account, token: str) -> bytes:
        # The hot path hands back the very Account while its row is unchanged (RowMemo).
        rest = self._rest.get(account.id, account)
        if rest is None:
            fields = profile(account, token, self._folders)
            del fields["sessid"]
            rest = self._rest.keep(account.id, orjson.dumps(fields), account)
        return b'{"sessid":' + orjson.dumps(token) + b"," + rest[1:]


def user_record(account: Account, folders: Folders) -> dict[str, Any]:
    """The real service's internal user (its check-registration answer), plus ``active``."""
    folder = folders.of(account)
    return {
        "id": account.id,
        "email": account.email,
        "fullName": account.full_name,
        "login": account.username,
        "orcid": account.orcid or "",
        "secret": account.secret,
        "superuser": account.superuser,
        "lastActivity": (
            local_date_time(account.last_activity_at) if account.last_activity_at else None
        ),
        "userFolder": {
            "relativePath": folder.relative_path,
            "path": folder.path,
            "type": folder.mode.value.upper(),
        },
        "groupsFolders": [],
        "permissions": [
            {"accessType": p.access.value, "accessTag": p.tag} for p in account.permissions
        ],
        "adminCollections": list(account.admin_tags),
        "notificationsEnabled": account.notifications_enabled,
        "active": account.active,
    }


def password_changed(account: Account) -> dict[str, Any]:
    """The answer of password change and setup: the real service's User."""
    return {
        "id": account.id,
        "email": account.email,
        "secretKey": account.secret,
        "fullName": account.full_name,
        "notificationsEnabled": account.notifications_enabled,
    }


def _time(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def session_view(session: Session, current_id: str | None) -> dict[str, Any]:
    """A session as its owner sees it: an id to end it by, never the token."""
    return {
        "id": session.id,
        "created": _time(session.created_at),
        "lastActivity": _time(session.last_seen_at),
        "expires": _time(session.expires_at),
        "clientAddress": session.client_address,
        "userAgent": session.user_agent,
        "current": session.id == current_id,
        "openedBy": session.opened_by,
    }


def audit_view(event: AuditEvent) -> dict[str, Any]:
    return {
        "at": _time(event.at),
        "kind": event.kind.value,
        "accountId": event.account_id,
        "subject": event.subject,
        "detail": event.detail,
        "actorId": event.actor_id,
        "clientAddress": event.client_address,
        "userAgent": event.user_agent,
    }
