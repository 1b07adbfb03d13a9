"""The profile decoded as BioStudies' Kotlin client (``bio-webclient``) decodes it.

Jackson's Kotlin module with JavaTimeModule: every field of the data class must be
present, a non-nullable ``String`` refuses ``null``, and a ``LocalDateTime`` refuses a
zone or an offset. Unknown fields are ignored. A strict decoder here stands for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# java.time.format.DateTimeFormatter.ISO_LOCAL_DATE_TIME: no zone, optional fraction.
LOCAL_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?")


class DecodingError(AssertionError):
    pass


@dataclass(frozen=True)
class UserProfile:
    sessid: str
    email: str
    username: str | None
    secret: str
    fullname: str
    superuser: bool
    allow: list[str]
    deny: list[str]
    orcid: str
    upload_type: str
    last_activity: datetime


def _field(body: dict[str, Any], name: str, kind: type, nullable: bool = False) -> Any:
    if name not in body:
        raise DecodingError(f"missing field {name!r}")
    value = body[name]
    if value is None and nullable:
        return None
    if not isinstance(value, kind):
        raise DecodingError(f"{name!r}: {value!r} is not a {kind.__name__}")
    return value


def _strings(body: dict[str, Any], name: str) -> list[str]:
    values = _field(body, name, list)
    if not all(isinstance(v, str) for v in values):
        raise DecodingError(f"{name!r}: not a list of strings")
    return list(values)


def local_date_time(text: str) -> datetime:
    if not LOCAL_DATE_TIME.fullmatch(text):
        raise DecodingError(f"not a LocalDateTime: {text!r}")
    return datetime.fromisoformat(text)


def decode_profile(body: Any) -> UserProfile:
    """Raises DecodingError where the Kotlin client's login would fail."""
    if not isinstance(body, dict):
        raise DecodingError("not an object")
    upload_type = _field(body, "uploadType", str)
    if upload_type not in ("nfs", "ftp"):
        raise DecodingError(f"uploadType: {upload_type!r}")
    return UserProfile(
        sessid=_field(body, "sessid", str),
        email=_field(body, "email", str),
        username=_field(body, "username", str, nullable=True),
        secret=_field(body, "secret", str),
        fullname=_field(body, "fullname", str),
        superuser=_field(body, "superuser", bool),
        allow=_strings(body, "allow"),
        deny=_strings(body, "deny"),
        orcid=_field(body, "orcid", str),
        upload_type=upload_type,
        last_activity=local_date_time(_field(body, "lastActivity", str)),
    )
