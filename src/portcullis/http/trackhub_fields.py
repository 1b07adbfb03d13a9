"""Request fields read as Django REST framework reads them, and its shape for errors.

The registry's front end shows the first message of each field of a 400, so a body's
problems are told field by field: ``{"email": ["..."], "non_field_errors": ["..."]}``.
The messages are REST framework's own, where it has one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from starlette.responses import Response

from portcullis.core.validation import email_problems, normalise_email
from portcullis.http.trackhub import answer

NON_FIELD = "non_field_errors"
REQUIRED = "This field is required."
BLANK = "This field may not be blank."
NOT_TEXT = "Not a valid string."
NOT_BOOLEAN = "Must be a valid boolean."
NOT_EMAIL = "Enter a valid email address."
# REST framework's BooleanField: what it reads as true and as false.
TRUE_VALUES = frozenset({"t", "y", "yes", "true", "on", "1"})
FALSE_VALUES = frozenset({"f", "n", "no", "false", "off", "0"})
MAX_TEXT = 1024


class FieldErrors(Exception):
    """A body's problems, field by field; answered as a 400 by ``field_errors``."""

    def __init__(self, errors: Mapping[str, list[str]]):
        super().__init__("invalid fields")
        self.errors = dict(errors)


def field_errors(errors: Mapping[str, list[str]], status_code: int = 400) -> Response:
    return answer(dict(errors), status_code)


def non_field_errors(problems: Iterable[str]) -> Response:
    return field_errors({NON_FIELD: list(problems) or ["Invalid input."]})


class Fields:
    """One body's fields, each read once; every problem is kept, then raised at once."""

    def __init__(self, raw: Mapping[str, Any]):
        self._raw = raw
        self.errors: dict[str, list[str]] = {}

    def add(self, name: str, *messages: str) -> None:
        if messages:
            self.errors.setdefault(name, []).extend(messages)

    def given(self, name: str) -> bool:
        return name in self._raw

    def text(
        self, name: str, *, required: bool = False, max_length: int = MAX_TEXT, strip: bool = True
    ) -> str | None:
        """The field as text (stripped, as REST framework's CharField), None if absent.

        A blank value is refused when ``required``, else read as "".
        """
        value = self._raw.get(name)
        if value is None:
            if required:
                self.add(name, REQUIRED)
            return None
        if not isinstance(value, str):
            self.add(name, NOT_TEXT)
            return None
        if strip:
            value = value.strip()
        if required and not value:
            self.add(name, BLANK)
            return None
        if len(value) > max_length:
            self.add(name, f"Ensure this field has no more than {max_length} characters.")
            return None
        return value

    def email(self, name: str = "email", *, required: bool = True) -> str | None:
        value = self.text(name, required=required)
        if value is None or (not value and not required):
            return value
        if email_problems(normalise_email(value)):
            self.add(name, NOT_EMAIL)
            return None
        return value

    def choice(self, name: str, choices: tuple[str, ...], *, required: bool = False) -> str | None:
        value = self._raw.get(name)
        if value is None:
            if required:
                self.add(name, REQUIRED)
            return None
        if not isinstance(value, str) or value not in choices:
            shown = value if isinstance(value, str | int | float) else type(value).__name__
            self.add(name, f'"{str(shown)[:64]}" is not a valid choice.')
            return None
        return value

    def boolean(self, name: str) -> bool | None:
        value = self._raw.get(name)
        if value is None:
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in TRUE_VALUES | FALSE_VALUES:
            return value.strip().lower() in TRUE_VALUES
        self.add(name, NOT_BOOLEAN)
        return None

    def check(self) -> None:
        """Raises FieldErrors if any field had a problem."""
        if self.errors:
            raise FieldErrors(self.errors)
