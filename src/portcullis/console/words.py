"""An operator's mistakes in plain words, each naming the setting or the server at fault.

A library's class name or wording ("SettingsError: error parsing value for field
...", "Input should be a valid integer") says what went wrong inside Portcullis, not
what to change outside it. So each known kind of problem is put as the setting's name
and what is wrong with the value; a value is repeated only where it cannot be a secret.
"""

from __future__ import annotations

import errno
import json
import re
from collections.abc import Iterator
from typing import Any

import asyncpg
from pydantic import ValidationError
from pydantic_settings import SettingsError
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from portcullis.storage.database import DatabaseUrl

ENV_PREFIX = "PORTCULLIS_"
# Values never repeated back: they are, or may hold, secrets (a URL's password).
UNSAID = ("secret", "password", "url", "token", "key")
_FIELD_OF_SOURCE = re.compile(r'field "([a-z0-9_]+)"')


def setting_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def _shown(field: str, value: Any) -> str:
    if any(part in field for part in UNSAID) or not isinstance(value, str | int | float):
        return "the value"
    return json.dumps(str(value))


def _plain(field: str, problem: Any) -> str:
    kind, context, value = problem["type"], problem.get("ctx", {}), problem.get("input")
    said = _shown(field, value)
    words = {
        "int_parsing": f"{said} is not a whole number",
        "float_parsing": f"{said} is not a number",
        "bool_parsing": f"{said} is not true or false",
        "greater_than": f"must be more than {context.get('gt')}",
        "greater_than_equal": f"must be at least {context.get('ge')}",
        "less_than": f"must be less than {context.get('lt')}",
        "less_than_equal": f"must be at most {context.get('le')}",
        "enum": f"{said} is not one of {context.get('expected')}",
        "string_pattern_mismatch": f"{said} is not of the form {context.get('pattern')}",
        "dict_type": "must be a JSON object",
        "json_invalid": "not valid JSON",
    }
    if kind == "value_error":
        return str(context.get("error", problem["msg"]))
    return words.get(kind, str(problem["msg"]))


def settings_problems(error: ValidationError) -> Iterator[str]:
    """One line per problem: ``PORTCULLIS_X: what is wrong``."""
    for problem in error.errors(include_url=False):
        field = "_".join(str(part) for part in problem["loc"][:1])
        words = _plain(field, problem)
        yield f"{setting_name(field)}: {words}" if field else words


def settings_source_problem(error: SettingsError) -> str:
    """A value pydantic-settings could not even decode (JSON settings such as instances)."""
    found = _FIELD_OF_SOURCE.search(str(error))
    name = setting_name(found.group(1)) if found else "a PORTCULLIS_ setting"
    cause = error.__cause__
    if isinstance(cause, json.JSONDecodeError):
        return f"{name}: not valid JSON (line {cause.lineno}, column {cause.colno})"
    return f"{name}: not a value this setting takes"


def database_problem(error: BaseException, database: DatabaseUrl) -> str:
    """What stopped a command from using the database, naming where it is."""
    where = (
        str(database.sqlite_path)
        if database.is_sqlite
        else f"{database.url.host or 'localhost'}:{database.url.port or 5432}"
    )
    cause = error.orig if isinstance(error, DBAPIError) else error
    if isinstance(cause, Exception) and isinstance(cause.__cause__, asyncpg.PostgresError):
        cause = cause.__cause__
    if isinstance(cause, ConnectionRefusedError) or getattr(cause, "errno", None) in (
        errno.ECONNREFUSED,
    ):
        return f"the database at {where} cannot be reached (connection refused)"
    if isinstance(cause, TimeoutError):
        return f"the database at {where} cannot be reached (no answer in time)"
    if isinstance(cause, OSError):
        reason = cause.strerror or str(cause)
        return f"the database at {where} cannot be reached ({reason.lower()})"
    if isinstance(cause, asyncpg.PostgresError):
        return f"the database at {where}: {cause.args[0] if cause.args else cause}"
    if isinstance(error, SQLAlchemyError):
        first = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
        return f"the database at {where}: {first}"
    return f"the database at {where}: {error}"
