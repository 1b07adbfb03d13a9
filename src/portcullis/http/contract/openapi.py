"""The document of both dialects: their operations, security schemes and headers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.routing import BaseRoute

from portcullis import __version__
from portcullis.http.contract import biostudies, gateway, trackhub
from portcullis.http.contract.document import build
from portcullis.web.forms import SESSION_COOKIE

PREFIXES = ("/auth/", "/api/")


def _front(public_url: str, cookie_name: str) -> dict[str, Any]:
    header = {"type": "apiKey", "in": "header"}
    return {
        "info": {
            "title": "Portcullis",
            "version": __version__,
            "summary": "Accounts and sessions: the BioStudies /auth API and the Track Hub "
            "Registry /api login and account views, on one core.",
        },
        "servers": [{"url": public_url}],
        "tags": [
            {"name": biostudies.TAG, "description": "Errors are FAIL payloads (Fail)."},
            {"name": trackhub.TAG, "description": "Errors carry `error`, or fields' problems."},
            {
                "name": gateway.TAG,
                "description": "Forward-auth for proxies, introspection for back ends; "
                "errors are FAIL payloads (Fail).",
            },
        ],
        "components": {
            "securitySchemes": {
                "SessionToken": {**header, "name": "X-Session-Token"},
                "SessionCookie": {"type": "apiKey", "in": "cookie", "name": cookie_name},
                "PagesCookie": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": SESSION_COOKIE,
                    "description": "The account pages' session cookie (forward-auth only).",
                },
                "SessionParameter": {"type": "apiKey", "in": "query", "name": "BIOSTDSESS"},
                "Token": {
                    **header,
                    "name": "Authorization",
                    "description": "`Authorization: Token <auth_token>` (REST framework's).",
                },
                "Bearer": {"type": "http", "scheme": "bearer"},
                "AuthToken": {
                    **header,
                    "name": "Auth-Token",
                    "description": "The Perl-era header, with `User` naming the token's owner.",
                },
                "Basic": {"type": "http", "scheme": "basic"},
            }
        },
    }


HEADERS = {
    "Retry-After": {
        "description": "Seconds until a try may succeed.",
        "schema": {"type": "integer"},
    },
    "WWW-Authenticate": {
        "description": 'The challenge: `Token`, or `Basic realm="api"` for Basic clients.',
        "schema": {"type": "string"},
    },
    "Link": {
        "description": 'The next page: `<address>; rel="next"`, absent on the last page.',
        "schema": {"type": "string"},
    },
    "Location": {
        "description": "The sign-in page, with `next` naming where to come back to.",
        "schema": {"type": "string"},
    },
    **{
        name: {"description": description, "schema": {"type": "string"}}
        for name, description in gateway.IDENTITY_HEADERS.items()
    },
}


def openapi_document(
    routes: Iterable[BaseRoute], public_url: str, cookie_name: str
) -> dict[str, Any]:
    """Raises MissingOperation for an API route that no operation describes."""
    operations = {**biostudies.OPERATIONS, **trackhub.OPERATIONS, **gateway.OPERATIONS}
    return build(routes, operations, PREFIXES, _front(public_url, cookie_name), HEADERS)
