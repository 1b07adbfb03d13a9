"""Request fields read as Django REST framework reads them, and its shape for errors.

The registry's account views parse their bodies with pydantic models
(``trackhub_bodies``) whose fields are annotated with the readers below, each one of
REST framework's fields (CharField, EmailField, ChoiceField, BooleanField) with its own
messages. The models are what the OpenAPI document shows, so the readers say what they
accept (``json_schema_input_type``).

The registry's front end shows the first message of each field of a 400, so a body's
problems are told field by field: ``{"email": ["..."], "non_field_errors": ["..."]}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import BaseModel, BeforeValidator, StringConstraints, ValidationError
from pydantic_core import PydanticCustomError
from starlette.responses import Response

from portcullis.core.validation import email_problems, normalise_email
from portcullis.http.trackhub import answer

M = TypeVar("M", bound=BaseModel)
NON_FIELD = "non_field_errors"
REQUIRED = "This field is required."
BLANK = "This field may not be blank."
NOT_TEXT = "Not a valid string."
NOT_BOOLEAN = "Must be a valid boolean."
NOT_EMAIL = "Enter a valid email address."
# REST framework's BooleanField: what it reads as true and as false.
TrueWord = Literal["t", "y", "yes", "true", "on", "1"]
FalseWord = Literal["f", "n", "no", "false", "off", "0"]
TRUE_VALUES = frozenset(get_args(TrueWord))
FALSE_VALUES = frozenset(get_args(FalseWord))
MAX_TEXT = 1024
# The error type of REST framework's messages inside pydantic's ValidationError.
PROBLEM = "rest_framework"


class FieldErrors(Exception):
    """A body's problems, field by field; answered as a 400 by ``field_errors``."""

    def __init__(self, errors: Mapping[str, list[str]]):
        super().__init__("invalid fields")
        self.errors = dict(errors)


def field_errors(errors: Mapping[str, list[str]], status_code: int = 400) -> Response:
    return answer(dict(errors), status_code)


def non_field_errors(problems: Iterable[str]) -> Response:
    return field_errors({NON_FIELD: list(problems) or ["Invalid input."]})


def problem(*messages: str) -> PydanticCustomError:
    """REST framework's messages for the field being read."""
    return PydanticCustomError(PROBLEM, "REST framework's messages", {"messages": messages})


def check_failed(name: str, *messages: str) -> PydanticCustomError:
    """Messages of a check made once a field was read (its rules, or its agreement with
    another field), told under ``name`` after every field's reading problems."""
    return PydanticCustomError(
        PROBLEM, "REST framework's messages", {"messages": messages, "field": name}
    )


def parse_fields(model: type[M], raw: Mapping[str, Any], context: Any = None) -> M:
    """``raw`` parsed by ``model``. Raises FieldErrors with REST framework's messages:
    each field's as it was read, in the model's order, then the checks' (as the
    registry has always answered)."""
    try:
        return model.model_validate(raw, context=context)
    except ValidationError as invalid:
        raise FieldErrors(problems_of(invalid)) from None


def problems_of(invalid: ValidationError) -> dict[str, list[str]]:
    read: list[tuple[str, list[str]]] = []
    checked: list[tuple[str, list[str]]] = []
    for detail in invalid.errors(include_url=False, include_input=False):
        name = str(detail["loc"][0]) if detail["loc"] else NON_FIELD
        context = detail.get("ctx") or {}
        if detail["type"] == PROBLEM and "field" in context:
            checked.append((context["field"], list(context["messages"])))
        elif detail["type"] == PROBLEM:
            read.append((name, list(context["messages"])))
        elif detail["type"] == "missing":
            read.append((name, [REQUIRED]))
        else:  # not one of the readers' (a model's own type): pydantic's words
            read.append((name, [detail["msg"]]))
    errors: dict[str, list[str]] = {}
    for name, messages in read + checked:
        errors.setdefault(name, []).extend(messages)
    return errors


# --- the readers ----------------------------------------------------------------------


def _text(value: Any, required: bool, max_length: int, strip: bool) -> str | None:
    if value is None:
        if required:
            raise problem(REQUIRED)
        return None
    if not isinstance(value, str):
        raise problem(NOT_TEXT)
    read = value.strip() if strip else value
    if required and not read:
        raise problem(BLANK)
    if len(read) > max_length:
        raise problem(f"Ensure this field has no more than {max_length} characters.")
    return read


def text(*, required: bool = False, max_length: int = MAX_TEXT, strip: bool = True) -> Any:
    """CharField: text, stripped unless ``strip`` is false; absent or null is None.

    A blank value is refused when ``required``, else read as "".
    """
    kind = Annotated[str, StringConstraints(max_length=max_length)]
    return BeforeValidator(
        lambda value: _text(value, required, max_length, strip),
        json_schema_input_type=kind if required else kind | None,
    )


def _email(value: Any) -> str | None:
    read = _text(value, True, MAX_TEXT, True)
    if read is not None and email_problems(normalise_email(read)):
        raise problem(NOT_EMAIL)
    return read


def email() -> Any:
    """EmailField, required: the address as sent (stripped), if it is one."""
    return BeforeValidator(_email, json_schema_input_type=str)


def _choice(value: Any, choices: tuple[Any, ...], required: bool) -> str | None:
    if value is None:
        if required:
            raise problem(REQUIRED)
        return None
    if not isinstance(value, str) or value not in choices:
        shown = value if isinstance(value, str | int | float) else type(value).__name__
        raise problem(f'"{str(shown)[:64]}" is not a valid choice.')
    return value


def choice(choices: Any, *, required: bool = False) -> Any:
    """ChoiceField of a Literal's values."""
    return BeforeValidator(
        lambda value: _choice(value, get_args(choices), required),
        json_schema_input_type=choices if required else choices | None,
    )


def _boolean(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE_VALUES | FALSE_VALUES:
        return value.strip().lower() in TRUE_VALUES
    raise problem(NOT_BOOLEAN)


def boolean() -> Any:
    """BooleanField, optional: a boolean, 0 or 1, or one of its words for either."""
    return BeforeValidator(_boolean, json_schema_input_type=bool | TrueWord | FalseWord | None)


def given_text() -> Any:
    """Text if text was sent, else None: for a field no answer ever refuses (a captcha's,
    which the core judges)."""
    return BeforeValidator(
        lambda value: value if isinstance(value, str) else None,
        json_schema_input_type=str | None,
    )
