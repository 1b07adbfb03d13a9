"""The gateway's operations: forward-auth (``/auth/verify``), introspection
(``/auth/introspect``), and the access tokens and service accounts behind them.

The bodies are the models their handlers parse: the tokens' (``http/biostudies_tokens.py``)
and introspection's (``http/gateway.py``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from portcullis.core.models import TokenKind, TokenScope
from portcullis.http.biostudies_tokens import NewServiceBody, NewTokenBody
from portcullis.http.contract import biostudies
from portcullis.http.contract.biostudies import COMMON, EMPTY_OK, SIGNED_IN, _fail
from portcullis.http.contract.document import Answer, Operation, Query
from portcullis.http.gateway import VERIFY_METHODS, IntrospectBody

TAG = "Gateway"
# Managing tokens: any of the dialect's forms, and the Authorization header (its 403
# says that a token may not manage tokens).
TOKENS = (*biostudies.TOKEN, "Bearer", "Token")
# Forward-auth: every form a client sends a token in, the pages' cookie too.
VERIFY = (
    "Bearer",
    "Token",
    "AuthToken",
    "SessionToken",
    "SessionCookie",
    "PagesCookie",
    "SessionParameter",
)
IDENTITY_HEADERS = {
    "X-Portcullis-User-Id": "The account's id.",
    "X-Portcullis-Email": "Its e-mail address (percent-encoded beyond ASCII).",
    "X-Portcullis-Username": "Its username, or empty (percent-encoded beyond ASCII).",
    "X-Portcullis-Superuser": "`true` or `false`.",
    "X-Portcullis-Allow": "Its READ tags, comma-separated, each percent-encoded.",
    "X-Portcullis-Session-Id": "The session's or token's public handle.",
    "X-Portcullis-Token-Kind": "`session`, `personal` or `service`.",
}


class TokenView(BaseModel):
    """An access token as lists show it: never the token itself."""

    id: str
    name: str
    kind: TokenKind
    scope: TokenScope
    created: str
    expires: str
    lastUsed: str | None


class IssuedToken(TokenView):
    token: str = Field(description="The token: shown once, here, and never again.")


class ServiceView(BaseModel):
    name: str
    id: int
    allow: list[str]


class Introspection(BaseModel):
    """RFC 7662's answer for a live token, with the account's READ tags."""

    active: Literal[True]
    sub: str
    username: str
    email: str
    scope: TokenScope
    exp: int
    iat: int
    token_type: TokenKind
    allow: list[str]


class Inactive(BaseModel):
    """A token that is unknown, expired or revoked: nothing more is said."""

    active: Literal[False]


NOT_A_SUPERUSER = _fail(
    "Not a superuser, a READ token, or a session cookie on a cross-site state change."
)
SUPERUSERS = {403: NOT_A_SUPERUSER, 404: _fail("No service account of that name.")}
TOKEN_PATH = {"id": "The token's public handle (its `id`), never the token."}
SERVICE_PATH = {"name": "The service account's name."}


def _op(summary: str, answers: dict[int, Answer], tag: str, **rest: Any) -> Operation:
    return Operation(summary, tag, {**COMMON, **answers}, **rest)


def _tokens(summary: str, answers: dict[int, Answer], **rest: Any) -> Operation:
    signed_in = {
        **SIGNED_IN,
        403: _fail("A token (not a session), or a session cookie on a cross-site change."),
    }
    return _op(summary, {**signed_in, **answers}, biostudies.TAG, security=TOKENS, **rest)


def _services(summary: str, answers: dict[int, Answer], **rest: Any) -> Operation:
    return _op(
        summary,
        {**SIGNED_IN, **SUPERUSERS, **answers},
        biostudies.TAG,
        security=TOKENS,
        **rest,
    )


NEW_TOKEN = {"name": "nightly ingest", "scope": "read", "expiresInDays": 30}
ISSUED = Answer("Made: the token is in this answer only.", IssuedToken)
TOKEN_PAGE = Answer("A page of tokens, never the tokens themselves.", list[TokenView], ("Link",))

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/auth/tokens"): _tokens(
        "One's personal access tokens, newest first (a session only)",
        {200: TOKEN_PAGE},
        query=biostudies.PAGES,
    ),
    ("POST", "/auth/tokens"): _tokens(
        "Make a personal access token (a session only)",
        {201: ISSUED},
        body=NewTokenBody,
        example=NEW_TOKEN,
    ),
    ("DELETE", "/auth/tokens/{id}"): _tokens(
        "Revoke one of one's tokens (a session only)",
        {200: EMPTY_OK, 404: _fail("No such token of this account.")},
        path_descriptions=TOKEN_PATH,
    ),
    ("GET", "/auth/services"): _op(
        "The service accounts, by id (superusers)",
        {
            **SIGNED_IN,
            200: Answer("A page of service accounts.", list[ServiceView], ("Link",)),
            403: NOT_A_SUPERUSER,
        },
        biostudies.TAG,
        security=TOKENS,
        query=biostudies.PAGES,
    ),
    ("POST", "/auth/services"): _op(
        "Add a service account with its READ tags (superusers)",
        {
            **SIGNED_IN,
            201: Answer("Added.", ServiceView),
            403: NOT_A_SUPERUSER,
        },
        biostudies.TAG,
        security=TOKENS,
        body=NewServiceBody,
        forms=False,
        example={"name": "ingest", "tags": ["S-BSST1"]},
    ),
    ("GET", "/auth/services/{name}/tokens"): _services(
        "A service account's tokens, newest first (superusers)",
        {200: TOKEN_PAGE},
        path_descriptions=SERVICE_PATH,
        query=biostudies.PAGES,
    ),
    ("POST", "/auth/services/{name}/tokens"): _services(
        "Make a token for a service account (superusers)",
        {201: ISSUED},
        body=NewTokenBody,
        example=NEW_TOKEN,
        path_descriptions=SERVICE_PATH,
    ),
    ("DELETE", "/auth/services/{name}/tokens/{id}"): _services(
        "Revoke a service account's token (superusers)",
        {200: EMPTY_OK, 404: _fail("No service account of that name, or no such token of it.")},
        path_descriptions={**SERVICE_PATH, **TOKEN_PATH},
    ),
    ("POST", "/auth/introspect"): _op(
        "Introspect a token (RFC 7662), asked by a service account",
        {
            200: Answer(
                "The token's owner and scope, or only that it is not active.",
                Introspection | Inactive,
            ),
            401: _fail(
                "The caller's own token is missing or names no live token.", "WWW-Authenticate"
            ),
            403: _fail("The caller's token is not a service account's."),
        },
        TAG,
        security=("Bearer", "Token", "SessionToken"),
        body=IntrospectBody,
        description="The caller's token in `Authorization` (or `X-Session-Token`); the "
        "token asked about in the body's `token` field, as a form (RFC 7662) or JSON.",
    ),
}

VERIFY_DESCRIPTION = """\
Asked by a reverse proxy about each request it holds back: nginx `auth_request`,
Traefik ForwardAuth, Caddy `forward_auth`, Envoy `ext_authz`. Traefik and Caddy ask
with GET and name the original method in `X-Forwarded-Method`; nginx and Envoy may
ask with the original request's method; so every method is answered alike (HEAD as
GET). The original request is read from `X-Forwarded-Method`, `X-Forwarded-Uri` (or
`X-Original-URI`), `X-Forwarded-Host` and `X-Forwarded-Proto`. No body is read.

A 200 carries the identity headers for the proxy to pass on; its body is empty."""

VERIFY_OPERATION = _op(
    "Forward-auth: may this request through, and as whom?",
    {
        200: Answer("Allowed: the identity is in the headers.", None, tuple(IDENTITY_HEADERS)),
        302: Answer(
            "No live token, and `redirect` asked: to the sign-in page.", None, ("Location",)
        ),
        401: _fail("No token, or one that names no live session.", "WWW-Authenticate"),
        403: _fail(
            "A tag the path's rule or `allow` asks for is missing, or a session cookie "
            "on a cross-site state change."
        ),
    },
    TAG,
    security=VERIFY,
    query=(
        Query("allow", "A READ tag the request needs (repeatable), beside the path's rule."),
        Query("redirect", "`1`, `true` or `yes`: answer a refusal with a sign-in redirect."),
        Query("rd", "Where sign-in sends the browser back to (a trusted origin only)."),
        Query("BIOSTDSESS", "The session token, as a query parameter."),
    ),
    description=VERIFY_DESCRIPTION,
)
OPERATIONS |= {
    (method, "/auth/verify"): VERIFY_OPERATION for method in VERIFY_METHODS if method != "HEAD"
}
