"""Which field each of a form's problems concerns, to say it beside the field too.

The core reports every problem of a form at once, as words. Each field's own check, run
again on what was typed in it, names the problems that are that field's: the rest (a
refused sign-in, a spent link) stay in the summary alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from portcullis.core.accounts import USERNAME_TAKEN, Accounts
from portcullis.core.validation import (
    email_problems,
    name_problems,
    normalise_email,
    orcid_problems,
    username_problems,
)

Form = Mapping[str, str]


def by_field(problems: Sequence[str], checks: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """Each problem under every field whose check names it."""
    found = {field: set(named) for field, named in checks.items()}
    errors = {field: [p for p in problems if p in named] for field, named in found.items()}
    return {field: listed for field, listed in errors.items() if listed}


def details_checks(form: Form) -> dict[str, list[str]]:
    """The checks of the name, username and ORCID iD fields, on what the form holds."""
    username = form.get("username", "").strip() or None
    return {
        "name": name_problems(form.get("name", "").strip()),
        "username": [*username_problems(username), USERNAME_TAKEN],
        "orcid": orcid_problems(form.get("orcid", "").strip().upper() or None),
    }


def email_checks(field: str, form: Form, name: str = "email") -> dict[str, list[str]]:
    return {field: email_problems(normalise_email(form.get(name, "")))}


def password_checks(
    accounts: Accounts, field: str, password: str, email: str, username: str | None
) -> dict[str, list[str]]:
    return {field: accounts.password_problems(password, email, username)}
