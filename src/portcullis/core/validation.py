"""Checks on the shape of account fields, shared by every entry point.

Every text a client can make us store is checked here, against one limit per field that
is never above its column in ``storage/tables.py`` (so no engine truncates it or fails
on it, and SQLite and PostgreSQL answer alike):

=====================  ==========================  ===================================
field                  limit (characters)          column
=====================  ==========================  ===================================
e-mail address         254 (local part 64), one    accounts.email String(254),
                       plain ASCII addr-spec       mail_outbox.recipient String(254)
username               150, ASCII ``[A-Za-z0-9_.   accounts.username String(150),
                       +-]``, unique when folded   accounts.username_key String(150)
full name              255, no control characters  accounts.full_name String(255)
ORCID                  19 (its own pattern)        accounts.orcid String(32)
access tag             128 printable, no comma;    accounts.access_tags JSON
                       at most 100 tags an account
login name             254                         looked up, never stored as a field
=====================  ==========================  ===================================

Passwords are hashed, never stored (``passwords.MAX_PASSWORD_LENGTH``). Transport text,
a user agent or an audit subject, is cut to its column instead (core/audit.py,
core/sessions.py): it describes a request, and refusing the request for it helps no one.
"""

from __future__ import annotations

import re
import unicodedata

from email_validator import EmailNotValidError, validate_email

from portcullis.core.errors import Problem

MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 255
MAX_USERNAME_LENGTH = 150
MAX_LOGIN_LENGTH = 254
MAX_TAG_LENGTH = 128
MAX_TAGS = 100

# Problems with a value in them, kept as templates for the pages to translate.
NAME_TOO_LONG = "The name must be at most {length} characters, without control ones"
USERNAME_SHAPE = "The username may hold only letters, digits and . _ + - (at most {length})"
TAG_SHAPE = "The tag must be at most {length} printable characters, without commas"

_USERNAME = re.compile(r"[A-Za-z0-9_.+-]+")
_ORCID = re.compile(r"\d{4}-\d{4}-\d{4}-\d{3}[\dX]")

# Cc: the C0 controls, DEL and the C1 controls (NUL, BEL, ESC, CR, LF, NEL, CSI ...), which
# end lines and drive terminals. Zl and Zp (U+2028, U+2029) end a line in JavaScript, in
# JSON shown in a page and in many log viewers, so they split a value as LF does. Cs (lone
# surrogates) cannot be written as UTF-8 at all. Format characters (Cf) stay: ZWNJ and ZWJ
# are needed to spell names in Persian, Hindi and other scripts.
CONTROL_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds a character of ``CONTROL_CATEGORIES``."""
    return any(unicodedata.category(c) in CONTROL_CATEGORIES for c in text)


def canonical_login(login: str) -> str:
    """The one form a login name is looked up, made unique and counted by.

    NFKC then case folding (Unicode's NFKC_Casefold, applied until it is stable), as the
    best peers match usernames: ``ALICE``, ``Alice`` and a fullwidth ``Alice`` are one name, so an
    answer or a lockout counter can never tell which spellings exist. E-mails are ASCII
    (see ``email_problems``), where this is plain lower-casing.
    """
    folded = unicodedata.normalize("NFKC", login.strip()).casefold()
    return unicodedata.normalize("NFKC", folded)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def email_problems(email: str) -> list[str]:
    """Problems with ``email`` (already normalised) as an address we store and mail.

    Exactly one plain address: a dot-atom local part, no quotes, comments, display name,
    angle brackets, group or domain literal, so that every mail parser reads the same
    one address out of it as we stored. ASCII only: a mail to anything else needs
    SMTPUTF8, which few relays offer, and one spelling per address keeps every lookup a
    plain comparison; an international domain is written in its xn-- form.
    """
    if len(email) > MAX_EMAIL_LENGTH or has_control_characters(email):
        return ["The provided email is not valid"]
    if not email.isascii():
        return [
            "The provided email must be written in ASCII (an international domain in its xn-- form)"
        ]
    try:
        checked = validate_email(email, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return ["The provided email is not valid"]
    if checked.ascii_email is None or checked.ascii_email.lower() != email:
        return ["The provided email is not valid"]
    return []


def name_problems(full_name: str) -> list[str]:
    if not full_name.strip():
        return ["The name must not be empty"]
    if len(full_name.strip()) > MAX_NAME_LENGTH or has_control_characters(full_name):
        return [Problem(NAME_TOO_LONG, length=MAX_NAME_LENGTH)]
    return []


def username_problems(username: str | None) -> list[str]:
    if username is None:
        return []
    # fullmatch, not match with "$": "$" also matches before a final line feed.
    if len(username) > MAX_USERNAME_LENGTH or not _USERNAME.fullmatch(username):
        return [Problem(USERNAME_SHAPE, length=MAX_USERNAME_LENGTH)]
    return []


def orcid_problems(orcid: str | None) -> list[str]:
    if orcid and not _ORCID.fullmatch(orcid):
        return ["The provided ORCID is not valid"]
    return []


def tag_problems(tag: str) -> list[str]:
    """An access tag: one printable name, without commas (lists are written with them)."""
    if not tag:
        return ["The tag must not be empty"]
    if len(tag) > MAX_TAG_LENGTH or not tag.isprintable() or "," in tag:
        return [Problem(TAG_SHAPE, length=MAX_TAG_LENGTH)]
    return []
