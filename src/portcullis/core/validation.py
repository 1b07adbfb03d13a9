"""Checks on the shape of account fields, shared by every entry point."""

from __future__ import annotations

import re
import unicodedata

MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 255
MAX_USERNAME_LENGTH = 150
MAX_LOGIN_LENGTH = 254
MAX_TAG_LENGTH = 128

# Deliberately plain: one "@", no spaces, a dot in the domain. The mail proves the rest.
_EMAIL = re.compile(r"^[^@\s\x00-\x1f]+@[^@\s\x00-\x1f]+\.[^@\s\x00-\x1f.]+$")
_USERNAME = re.compile(r"^[A-Za-z0-9_.+-]+$")
_ORCID = re.compile(r"^\d{4}-\d{4}-\d{4}-\d{3}[\dX]$")


def canonical_login(login: str) -> str:
    """The one form a login name is looked up, made unique and counted by.

    NFKC then case folding (Unicode's NFKC_Casefold, applied until it is stable), as the
    best peers match usernames: ``ALICE``, ``Alice`` and ``Ａｌｉｃｅ`` are one name, so an
    answer or a lockout counter can never tell which spellings exist. E-mails are ASCII
    (see ``email_problems``), where this is plain lower-casing.
    """
    folded = unicodedata.normalize("NFKC", login.strip()).casefold()
    return unicodedata.normalize("NFKC", folded)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def email_problems(email: str) -> list[str]:
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.match(email):
        return ["The provided email is not valid"]
    if not email.isascii():
        # A mail to it would need SMTPUTF8, which few relays offer; as Django's validator,
        # we take the ASCII forms only (an international domain as its xn-- name).
        return [
            "The provided email must be written in ASCII (an international domain in its xn-- form)"
        ]
    return []


def name_problems(full_name: str) -> list[str]:
    if not full_name.strip():
        return ["The name must not be empty"]
    if len(full_name) > MAX_NAME_LENGTH or any(ord(c) < 32 for c in full_name):
        return [f"The name must be at most {MAX_NAME_LENGTH} printable characters"]
    return []


def username_problems(username: str | None) -> list[str]:
    if username is None:
        return []
    if len(username) > MAX_USERNAME_LENGTH or not _USERNAME.match(username) or "@" in username:
        return ["The username may hold only letters, digits and . _ + - (at most 150)"]
    return []


def orcid_problems(orcid: str | None) -> list[str]:
    if orcid and not _ORCID.match(orcid):
        return ["The provided ORCID is not valid"]
    return []


def tag_problems(tag: str) -> list[str]:
    """An access tag: one printable name, without commas (lists are written with them)."""
    if not tag:
        return ["The tag must not be empty"]
    if len(tag) > MAX_TAG_LENGTH or not tag.isprintable() or "," in tag:
        return [f"The tag must be at most {MAX_TAG_LENGTH} printable characters, without commas"]
    return []
