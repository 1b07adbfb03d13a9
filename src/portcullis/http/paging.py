"""A list a page at a time over HTTP: the query's ``limit`` and ``cursor`` in, the page
out as the JSON list the endpoint always answered, the next page in ``Link``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from portcullis.core.errors import InvalidInput
from portcullis.core.paging import DEFAULT_LIMIT, MAX_LIMIT, Page
from portcullis.http.common import json_response

NO_STORE = {"Cache-Control": "no-store"}


def parse_limit(raw: str | None) -> int:
    """A whole number from 1 to MAX_LIMIT, in ASCII digits. Raises InvalidInput."""
    if raw is None:
        return DEFAULT_LIMIT
    # isdigit() alone admits digits int() refuses, such as superscripts ("²").
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
        raise InvalidInput([f"limit: not a whole number from 1 to {MAX_LIMIT}"])
    return int(raw)


def page_asked(request: Request) -> tuple[int, str | None]:
    """The query's limit (DEFAULT_LIMIT if none) and cursor. Raises InvalidInput for a
    bad limit; the cursor is the core's to read."""
    query = request.query_params
    return parse_limit(query.get("limit")), query.get("cursor")


def page_response(request: Request, page: Page[Any], view: Callable[[Any], object]) -> Response:
    """The page's items as the JSON list the endpoint always answered; the next page's
    address in ``Link: <...>; rel="next"`` (RFC 8288, as GitHub's API pages), so a client
    that reads only the body is not broken, and one that follows links gets every page."""
    headers = dict(NO_STORE)
    if page.next is not None:
        headers["Link"] = f'<{request.url.include_query_params(cursor=page.next)}>; rel="next"'
    return json_response([view(item) for item in page.items], headers=headers)
