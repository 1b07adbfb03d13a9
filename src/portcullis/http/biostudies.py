"""The BioStudies security API under /auth: JSON in and out, FAIL payloads on error."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictStr, StringConstraints
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from portcullis.core.audit import MAX_READ
from portcullis.core.errors import InvalidInput, PortcullisError, TooManyAttempts
from portcullis.core.models import Account, AuditEvent, LinkTarget, Registration, Session
from portcullis.http.common import (
    client_of,
    empty_response,
    json_response,
    parse_model,
    read_fields,
    status_of,
)
from portcullis.http.cross_site import SessionCookie, TrustedOrigins
from portcullis.services import Services

Text = Annotated[StrictStr, StringConstraints(max_length=4096)]
Short = Annotated[StrictStr, StringConstraints(max_length=1024)]
BodyConfig = ConfigDict(extra="ignore", populate_by_name=True)
Body = TypeVar("Body", bound=BaseModel)
NO_STORE = {"Cache-Control": "no-store"}


def fail(message: str, status_code: int, problems: Sequence[str] = (), **headers: str) -> Response:
    subnodes = [{"level": "ERROR", "message": p, "subnodes": []} for p in problems]
    body = {"status": "FAIL", "log": {"level": "ERROR", "message": message, "subnodes": subnodes}}
    return json_response(body, status_code, headers or None)


def error_response(error: PortcullisError) -> Response:
    problems = error.problems if isinstance(error, InvalidInput) else []
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, TooManyAttempts) else {}
    return fail(error.message, status_of(error), problems, **headers)


def profile(account: Account, token: str) -> dict[str, Any]:
    """The seed's profile fields, plus ``orcid`` and ``lastActivity`` as the current service."""
    return {
        "sessid": token,
        "email": account.email,
        "username": account.username or account.email,
        "secret": account.secret,
        "fullname": account.full_name,
        "superuser": account.superuser,
        "allow": [account.email, "Public", *account.access_tags],
        "deny": list(account.deny_tags),
        "aux": {"orcid": account.orcid},
        "orcid": account.orcid,
        "lastActivity": account.last_activity_at.isoformat() if account.last_activity_at else None,
    }


def _time(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def session_view(session: Session, current_id: str | None) -> dict[str, Any]:
    """A session as its owner sees it: an id to end it by, never the token."""
    return {
        "id": session.id,
        "created": _time(session.created_at),
        "lastActivity": _time(session.last_seen_at),
        "expires": _time(session.expires_at),
        "clientAddress": session.client_address,
        "userAgent": session.user_agent,
        "current": session.id == current_id,
    }


def audit_view(event: AuditEvent) -> dict[str, Any]:
    return {
        "at": _time(event.at),
        "kind": event.kind.value,
        "accountId": event.account_id,
        "subject": event.subject,
        "detail": event.detail,
        "actorId": event.actor_id,
        "clientAddress": event.client_address,
        "userAgent": event.user_agent,
    }


def parse_since(raw: str | None) -> datetime | None:
    """An ISO date or date-time (UTC unless it says otherwise). Raises InvalidInput."""
    if not raw:
        return None
    try:
        since = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(["since: not an ISO 8601 date or date-time"]) from None
    return since if since.tzinfo else since.replace(tzinfo=UTC)


def parse_limit(raw: str | None) -> int:
    """A whole number from 1 to MAX_READ, in ASCII digits. Raises InvalidInput."""
    if raw is None:
        return 100
    # isdigit() alone admits digits int() refuses, such as superscripts ("²").
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_READ:
        raise InvalidInput([f"limit: not a whole number from 1 to {MAX_READ}"])
    return int(raw)


def token_of(request: Request, cookie: SessionCookie) -> str | None:
    """X-Session-Token, else the BIOSTDSESS-<env> cookie, else the BIOSTDSESS parameter.

    Raises NotAllowed when the cookie would authenticate a cross-site state change.
    """
    return (
        request.headers.get("x-session-token")
        or cookie.token(request)
        or request.query_params.get("BIOSTDSESS")
    )


class LoginBody(BaseModel):
    # No length limits here: the core decides (a login name over 254 characters is a 400,
    # any wrong credential the same 401).
    model_config = BodyConfig
    login: StrictStr
    password: StrictStr


class LogoutBody(BaseModel):
    model_config = BodyConfig
    sessid: Short | None = None


class LinkBody(BaseModel):
    model_config = BodyConfig
    email: Short
    instance_key: Short = Field(alias="instanceKey")
    path: Short

    @property
    def target(self) -> LinkTarget:
        return LinkTarget(self.instance_key, self.path)


class ResetBody(LinkBody):
    captcha: Text | None = Field(default=None, alias="recaptcha2-response")


class RegisterBody(ResetBody):
    name: Short
    password: Short
    orcid: Short | None = None
    # Lax on purpose: a form sends "true" or "false" as text (JSON sends a boolean);
    # anything but pydantic's usual spellings of a boolean is still a 400.
    notifications_enabled: bool = Field(default=False, alias="notificationsEnabled")


class ChangePasswordBody(BaseModel):
    model_config = BodyConfig
    activation_key: Short = Field(alias="activationKey")
    password: Short


class CheckRegistrationBody(BaseModel):
    model_config = BodyConfig
    user_email: Short = Field(alias="userEmail")
    user_name: Short = Field(alias="userName")


class BioStudiesApi:
    """Thin handlers: parse, make one core call, map the result."""

    def __init__(self, services: Services):
        self._services = services
        settings = services.settings
        origins = TrustedOrigins(settings.public_url, settings.cors_origins)
        self._cookie = SessionCookie(settings.session_cookie_name, origins)

    def routes(self) -> list[BaseRoute]:
        post = ["POST"]
        return [
            Route("/auth/login", self.login, methods=post),
            Route("/auth/signin", self.login, methods=post),
            Route("/auth/logout", self.logout, methods=post),
            Route("/auth/signout", self.logout, methods=post),
            Route("/auth/profile", self.profile, methods=["GET"]),
            Route("/auth/register", self.register, methods=post),
            Route("/auth/signup", self.register, methods=post),
            Route("/auth/activate/{key}", self.activate, methods=post),
            Route("/auth/activate", self.send_password_setup, methods=post),
            Route("/auth/retryact", self.retry_activation, methods=post),
            Route("/auth/password/reset", self.request_reset, methods=post),
            Route("/auth/password/change", self.change_password, methods=post),
            Route("/auth/check-registration", self.check_registration, methods=post),
            Route("/auth/sessions", self.list_sessions, methods=["GET"]),
            Route("/auth/sessions/{id}", self.end_session, methods=["DELETE"]),
            Route("/auth/logout/all", self.logout_everywhere, methods=post),
            Route("/auth/admin/users/{email}/sessions", self.admin_sessions, methods=["GET"]),
            Route(
                "/auth/admin/users/{email}/sessions/{id}",
                self.admin_end_session,
                methods=["DELETE"],
            ),
            Route(
                "/auth/admin/users/{email}/logout-all", self.admin_logout_everywhere, methods=post
            ),
            Route("/auth/admin/audit", self.admin_audit, methods=["GET"]),
        ]

    async def _body(self, request: Request, model: type[Body]) -> Body:
        return parse_model(model, await read_fields(request, allow_form=True))

    async def profile(self, request: Request) -> Response:
        # The hot path: one keyed hash, one indexed read, one orjson dump.
        token = token_of(request, self._cookie)
        _, account = await self._services.sessions.resolve(token)
        assert token is not None
        return json_response(profile(account, token), headers=NO_STORE)

    async def login(self, request: Request) -> Response:
        body = await self._body(request, LoginBody)
        issued = await self._services.login(body.login, body.password, client_of(request))
        return json_response(profile(issued.account, issued.token), headers=NO_STORE)

    async def logout(self, request: Request) -> Response:
        # Always 200, as the real service: a body we cannot read names no session, and
        # logging out of no session is what the caller wanted anyway.
        try:
            sessid = (await self._body(request, LogoutBody)).sessid
        except InvalidInput:
            sessid = None
        await self._services.sessions.close(
            sessid or token_of(request, self._cookie), client_of(request)
        )
        return empty_response()

    async def register(self, request: Request) -> Response:
        body = await self._body(request, RegisterBody)
        registration = Registration(
            email=body.email,
            password=body.password,
            full_name=body.name,
            orcid=body.orcid,
            notifications_enabled=body.notifications_enabled,
        )
        await self._services.accounts.register(
            registration, body.target, body.captcha, client_of(request)
        )
        return empty_response(201)

    async def activate(self, request: Request) -> Response:
        await self._services.accounts.activate(request.path_params["key"], client_of(request))
        return empty_response()

    async def send_password_setup(self, request: Request) -> Response:
        body = await self._body(request, LinkBody)
        await self._services.accounts.send_password_setup(body.email, body.target)
        return empty_response()

    async def retry_activation(self, request: Request) -> Response:
        body = await self._body(request, LinkBody)
        await self._services.accounts.resend_activation(body.email, body.target)
        return empty_response()

    async def request_reset(self, request: Request) -> Response:
        body = await self._body(request, ResetBody)
        await self._services.accounts.request_reset(
            body.email, body.target, body.captcha, client_of(request)
        )
        return empty_response()

    async def change_password(self, request: Request) -> Response:
        body = await self._body(request, ChangePasswordBody)
        account = await self._services.accounts.change_password_with_key(
            body.activation_key, body.password, client_of(request)
        )
        return json_response(
            {
                "id": account.id,
                "email": account.email,
                "secretKey": account.secret,
                "fullName": account.full_name,
                "notificationsEnabled": account.notifications_enabled,
            },
            headers=NO_STORE,
        )

    async def check_registration(self, request: Request) -> Response:
        _, caller = await self._services.sessions.resolve(token_of(request, self._cookie))
        body = await self._body(request, CheckRegistrationBody)
        account = await self._services.admin.check_registration(
            caller, body.user_email, body.user_name, client_of(request)
        )
        return json_response(
            {
                "id": account.id,
                "email": account.email,
                "fullName": account.full_name,
                "secretKey": account.secret,
                "active": account.active,
                "notificationsEnabled": account.notifications_enabled,
            },
            headers=NO_STORE,
        )

    # --- sessions under the user's control ------------------------------------------

    async def list_sessions(self, request: Request) -> Response:
        current, account = await self._services.sessions.resolve(token_of(request, self._cookie))
        sessions = await self._services.sessions.list(account.id)
        return json_response([session_view(s, current.id) for s in sessions], headers=NO_STORE)

    async def end_session(self, request: Request) -> Response:
        _, account = await self._services.sessions.resolve(token_of(request, self._cookie))
        await self._services.sessions.close_one(
            account, request.path_params["id"], client_of(request)
        )
        return empty_response()

    async def logout_everywhere(self, request: Request) -> Response:
        _, account = await self._services.sessions.resolve(token_of(request, self._cookie))
        ended = await self._services.sessions.close_all(account, client_of(request))
        return json_response({"ended": ended})

    # --- superusers: any account's sessions, the audit trail ------------------------

    async def _caller(self, request: Request) -> Account:
        _, caller = await self._services.sessions.resolve(token_of(request, self._cookie))
        return caller

    async def admin_sessions(self, request: Request) -> Response:
        caller = await self._caller(request)
        sessions = await self._services.admin.sessions_of(request.path_params["email"], caller)
        return json_response([session_view(s, None) for s in sessions], headers=NO_STORE)

    async def admin_end_session(self, request: Request) -> Response:
        caller = await self._caller(request)
        await self._services.admin.end_session(
            request.path_params["email"], request.path_params["id"], caller, client_of(request)
        )
        return empty_response()

    async def admin_logout_everywhere(self, request: Request) -> Response:
        caller = await self._caller(request)
        ended = await self._services.admin.logout_everywhere(
            request.path_params["email"], caller, client_of(request)
        )
        return json_response({"ended": ended})

    async def admin_audit(self, request: Request) -> Response:
        caller = await self._caller(request)
        query = request.query_params
        events = await self._services.audit.read(
            caller,
            query.get("user") or None,
            parse_since(query.get("since")),
            parse_limit(query.get("limit")),
        )
        return json_response([audit_view(e) for e in events], headers=NO_STORE)
