"""What both dialects need from a request: its body, its token, who sent it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from portcullis.core.errors import InvalidInput, PortcullisError
from portcullis.core.models import Client
from portcullis.http.forms import is_form, parse_form

JSON_TYPE = "application/json"

M = TypeVar("M", bound=BaseModel)
# Where the ClientAddress middleware leaves the address it decided on.
CLIENT_ADDRESS_KEY = "portcullis.client_address"


# The HTTP status of each core error: the same in every dialect and on the pages.
STATUS = {
    "invalid_input": 400,
    "password_rejected": 400,
    "invalid_credentials": 401,
    "invalid_token": 401,
    "invalid_key": 400,
    "unknown_instance": 400,
    "already_registered": 400,
    "captcha_failed": 400,
    "not_allowed": 403,
    "not_found": 404,
    "too_many_attempts": 429,
    "unavailable": 503,
}


# PostgreSQL's text cannot hold NUL, and no name, address, key or password needs one: it
# is refused wherever a request can carry it (as Django's form fields do), so SQLite and
# PostgreSQL answer alike and nothing reaches a query that would fail on it.
NO_NULL_CHARACTERS = "Null characters are not allowed."


def refuse_null_characters(fields: object) -> None:
    """Raise InvalidInput if any text in ``fields`` (keys and values, nested) holds NUL.

    A loop, not recursion: JSON may nest deeper than Python's recursion limit.
    """
    waiting = [fields]
    while waiting:
        value = waiting.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise InvalidInput([NO_NULL_CHARACTERS])
        elif isinstance(value, Mapping):
            waiting.extend(value.keys())
            waiting.extend(value.values())
        elif isinstance(value, list):
            waiting.extend(value)


TOKEN_SCHEMES = ("token", "bearer")


def authorization_token(headers: Mapping[str, str]) -> tuple[str, str] | None:
    """The scheme (lower-cased) and token of ``Authorization: Token|Bearer <t>``, if sent."""
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() in TOKEN_SCHEMES and value.strip():
        return scheme.lower(), value.strip()
    return None


def header_map(scope: Scope) -> dict[str, str]:
    """Each header's first value by its name, made in one pass: Starlette's Headers scans
    the whole list at every lookup, and forward-auth makes nine on every request."""
    return {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in reversed(scope["headers"])
    }


def status_of(error: PortcullisError) -> int:
    return STATUS.get(error.code, 400)


class BodyTooLarge(Exception):
    """The request body is over the configured limit."""


def json_response(
    content: Any,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    media_type: str = JSON_TYPE,
) -> Response:
    return Response(orjson.dumps(content), status_code, headers, media_type=media_type)


def empty_response(status_code: int = 200) -> Response:
    return Response(b"", status_code)


async def read_fields(request: Request, *, allow_form: bool) -> dict[str, Any]:
    """The request's fields from a JSON object body, or (if allowed) a form.

    JSON is tried whatever the Content-Type says: the BioStudies documentation's own
    ``curl -d '{...}'`` sends JSON labelled as a form. Either is read as UTF-8 or refused
    (orjson refuses bad UTF-8 and lone surrogates; forms.py does the same for forms).
    Raises InvalidInput on anything that is neither, or on text holding a NUL character.
    """
    fields = await _read_fields(request, allow_form=allow_form)
    refuse_null_characters(fields)
    return fields


async def _read_fields(request: Request, *, allow_form: bool) -> dict[str, Any]:
    body = await request.body()
    if not body.strip():
        return {}
    content_type = request.headers.get("content-type", "")
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        if body.lstrip()[:1] in (b"{", b"["):
            # Meant as JSON, whatever the label (the seeds' curl -d labels JSON a form):
            # say what is wrong with it rather than read it as a form of odd field names.
            raise InvalidInput([f"The request body is not valid JSON: {error}"]) from None
        parsed = None
        if allow_form and is_form(content_type):
            return dict(parse_form(content_type, body))
    if not isinstance(parsed, dict):
        raise InvalidInput(["The request body must be a JSON object"])
    return parsed


def parse_model(model: type[M], fields: Mapping[str, Any]) -> M:
    """Validate ``fields`` into ``model``; every problem is reported at once."""
    try:
        return model.model_validate(fields)
    except ValidationError as error:
        problems = []
        for detail in error.errors(include_url=False, include_input=False):
            where = ".".join(str(part) for part in detail["loc"])
            problems.append(f"{where}: {detail['msg']}" if where else detail["msg"])
        raise InvalidInput(problems) from None


def client_of(request: Request) -> Client:
    address = request.scope.get(CLIENT_ADDRESS_KEY)
    if address is None and request.client is not None:
        address = request.client.host
    return Client(address=address, user_agent=request.headers.get("user-agent"))
