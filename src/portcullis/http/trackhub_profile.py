"""The registry's profile as this dialect keeps it beside the core's account.

The core holds the e-mail and one full name (what BioStudies shows). The registry's own
fields live under ``DIALECT`` in ``Account.dialect_fields``, which the core stores and
never reads: first and last name, affiliation, check_interval, continuous_alert.

First and last name are kept with the full name they were given for (``name_as_of``).
While the account's full name is still that one they are shown as given; once it was
set another way (BioStudies registration, the pages, an operator), the full name is
the first name and the last name is empty. So each side shows what the other was last
told, and nothing guesses where a name splits.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from portcullis.core.models import Account

DIALECT = "trackhub"
Interval = Literal["automatic", "weekly", "monthly"]
CHECK_INTERVALS: tuple[str, ...] = get_args(Interval)
DEFAULT_CHECK_INTERVAL = "automatic"
MAX_NAME = 150  # as Django's first_name and last_name
MAX_AFFILIATION = 255


def full_name_of(first_name: str, last_name: str) -> str:
    return " ".join(part for part in (first_name.strip(), last_name.strip()) if part)


def own_fields(account: Account) -> dict[str, Any]:
    return dict(account.dialect_fields.get(DIALECT, {}))


def names_of(account: Account) -> tuple[str, str]:
    """The first and last name to show, consistent with the account's full name."""
    own = own_fields(account)
    if own.get("name_as_of") == account.full_name:
        return str(own.get("first_name", "")), str(own.get("last_name", ""))
    return account.full_name, ""


def with_names(
    own: dict[str, Any], first_name: str, last_name: str, full_name: str
) -> dict[str, Any]:
    return {**own, "first_name": first_name, "last_name": last_name, "name_as_of": full_name}


def profile_view(account: Account) -> dict[str, Any]:
    own = own_fields(account)
    first_name, last_name = names_of(account)
    return {
        "username": account.username or account.email,
        "email": account.email,
        "first_name": first_name,
        "last_name": last_name,
        "affiliation": str(own.get("affiliation", "")),
        "check_interval": str(own.get("check_interval", DEFAULT_CHECK_INTERVAL)),
        "continuous_alert": bool(own.get("continuous_alert", False)),
    }
