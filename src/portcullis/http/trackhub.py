"""The Track Hub Registry login: /api/login and /api/logout (and under /api/user/)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictStr, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from portcullis.core.errors import (
    InvalidCredentials,
    InvalidInput,
    InvalidToken,
    PortcullisError,
    TooManyAttempts,
)
from portcullis.core.models import Account, AuditKind
from portcullis.core.sessions import Use
from portcullis.core.validation import canonical_login
from portcullis.http.common import (
    authorization_token,
    client_of,
    json_response,
    read_fields,
    status_of,
)
from portcullis.services import Services

NEED_LOGIN = "You need to login, get an auth_token and make requests using the token"
BAD_CREDENTIALS = "Invalid username or password."
# What REST framework's clients read from a 401 (``detail``), beside what Perl-era ones
# read (``error``): a 401 for a token carries both.
INVALID_TOKEN = "Invalid token."  # noqa: S105 (a message, not a secret)
NO_CREDENTIALS = "Authentication credentials were not provided."
# As the registry's documentation shows its answers.
MEDIA_TYPE = "application/json; charset=utf-8"


def answer(
    content: dict[str, Any], status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return json_response(content, status_code, headers, media_type=MEDIA_TYPE)


def error(message: str, status_code: int, **headers: str) -> Response:
    return answer({"error": message}, status_code, headers or None)


def token_refused(detail: str = INVALID_TOKEN) -> Response:
    """401 for a missing or bad token, readable by both generations of clients."""
    body = {"detail": detail, "error": NEED_LOGIN}
    return answer(body, 401, {"WWW-Authenticate": "Token"})


def error_response(problem: PortcullisError, *, basic: bool = False) -> Response:
    """A core error in this dialect: JSON with an ``error`` key, the challenge on 401s."""
    if isinstance(problem, InvalidToken):
        return token_refused()
    status_code = status_of(problem)
    headers: dict[str, str] = {}
    message = problem.message
    if isinstance(problem, InvalidCredentials):
        message = BAD_CREDENTIALS
    elif isinstance(problem, InvalidInput):
        message = "; ".join(problem.problems) or problem.message
    elif isinstance(problem, TooManyAttempts):
        headers["Retry-After"] = str(problem.retry_after)
    if status_code == 401:
        headers["WWW-Authenticate"] = 'Basic realm="api"' if basic else "Token"
    return error(message, status_code, **headers)


def uses_basic(request: Request) -> bool:
    """Whether the request sends ``Authorization: Basic``, well formed or not."""
    scheme = request.headers.get("authorization", "").partition(" ")[0]
    return scheme.lower() == "basic"


def basic_credentials(request: Request) -> tuple[str, str]:
    """The user and password of the ``Authorization: Basic`` header.

    Raises InvalidCredentials when they cannot be read.
    """
    value = request.headers.get("authorization", "").partition(" ")[2]
    try:
        user, colon, password = (
            base64.b64decode(value.strip(), validate=True).decode().partition(":")
        )
    except ValueError:
        # binascii.Error (not base64), UnicodeDecodeError (not UTF-8 inside), and the plain
        # ValueError b64decode raises for bytes outside ASCII, which reach us as latin-1.
        raise InvalidCredentials() from None
    if not colon or "\x00" in user or "\x00" in password:  # no account holds a NUL
        raise InvalidCredentials()
    return user, password


def legacy_token_of(headers: Mapping[str, str]) -> str | None:
    """The Perl-era ``Auth-Token`` header, or ``auth_token`` as the registry's Python
    example sends it (requests keeps the underscore; the Perl service accepted it)."""
    return headers.get("auth-token") or headers.get("auth_token")


def token_of(request: Request) -> str | None:
    """``Authorization: Token|Bearer <t>``, or the legacy token headers."""
    sent = authorization_token(request.headers)
    return sent[1] if sent else legacy_token_of(request.headers)


def matches_legacy_user(headers: Mapping[str, str], account: Account) -> bool:
    """Legacy clients name the user in ``User``; it must be the token's owner."""
    user = headers.get("user")
    if user is None or legacy_token_of(headers) is None:
        return True
    if "@" in user:
        return user.strip().lower() == account.email
    # The same folded form signing in looks the name up by.
    return account.username is not None and canonical_login(user) == canonical_login(
        account.username
    )


class LoginForm(BaseModel):
    """The registry's login by form or JSON, when no Basic header is sent."""

    model_config = ConfigDict(extra="ignore")
    username: StrictStr
    password: StrictStr


class TrackHubApi:
    def __init__(self, services: Services):
        self._services = services

    def routes(self) -> list[BaseRoute]:
        both = ["GET", "POST"]
        routes: list[BaseRoute] = []
        for prefix in ("/api", "/api/user"):
            routes.append(Route(f"{prefix}/login", self.login, methods=both))
            routes.append(Route(f"{prefix}/logout", self.logout, methods=both))
        return routes

    async def login(self, request: Request) -> Response:
        basic = uses_basic(request)
        try:
            if basic:
                username, password = basic_credentials(request)
            else:
                username, password = await self._form_credentials(request)
            issued = await self._services.login(username, password, client_of(request))
        except PortcullisError as problem:
            # A Basic client is challenged as Basic even when its header was garbled.
            return error_response(problem, basic=basic)
        return answer(
            {
                "auth_token": issued.token,
                "email": issued.account.email,
                "is_account_activated": issued.account.email_verified,
            },
            headers={"Cache-Control": "no-store"},
        )

    async def _form_credentials(self, request: Request) -> tuple[str, str]:
        if request.method == "GET":
            raise InvalidCredentials()
        try:
            form = LoginForm.model_validate(await read_fields(request, allow_form=True))
        except ValidationError:
            raise InvalidCredentials() from None  # a missing or odd field: wrong credentials
        return form.username, form.password

    async def logout(self, request: Request) -> Response:
        session, account = await self._services.sessions.resolve(token_of(request), Use.ACCOUNT)
        if not matches_legacy_user(request.headers, account):
            raise InvalidToken()
        await self._services.sessions.close_one(
            account, session.id, client_of(request), kind=AuditKind.LOGOUT
        )
        if request.method == "GET":
            return answer({"message": "Successfully logged out"})
        return answer({"success": "Successfully logged out."})
