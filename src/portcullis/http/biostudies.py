"""The BioStudies security API under /auth: JSON in and out, FAIL payloads on error."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictStr, StringConstraints
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from portcullis.core.accounts import MISSING_LINK_TARGET
from portcullis.core.errors import InvalidInput, PortcullisError, TooManyAttempts
from portcullis.core.models import Account, IssuedSession, LinkTarget, Registration, StorageMode
from portcullis.core.sessions import Use
from portcullis.core.validation import email_problems, normalise_email
from portcullis.http.biostudies_admin import BioStudiesAdminApi
from portcullis.http.biostudies_tokens import BioStudiesTokensApi
from portcullis.http.biostudies_views import (
    ProfileBodies,
    password_changed,
    session_view,
    user_record,
)
from portcullis.http.common import (
    JSON_TYPE,
    authorization_token,
    client_of,
    empty_response,
    json_response,
    parse_model,
    read_fields,
    status_of,
)
from portcullis.http.cross_site import SessionCookie, session_cookie_of
from portcullis.http.forms import read_form
from portcullis.http.paging import page_asked, page_response
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


def token_of(request: Request, cookie: SessionCookie) -> str | None:
    """X-Session-Token, else ``Authorization: Bearer|Token`` (what pipelines holding an
    access token send), else the BIOSTDSESS-<env> cookie, else the BIOSTDSESS parameter.

    Raises NotAllowed when the cookie would authenticate a cross-site state change.
    """
    # X-Session-Token first, and alone when sent: every token check reads this.
    if token := request.headers.get("x-session-token"):
        return token
    sent = authorization_token(request.headers)
    return (
        (sent[1] if sent else None)
        or cookie.token(request)
        or request.query_params.get("BIOSTDSESS")
    )


async def token_with_body_of(request: Request, cookie: SessionCookie) -> str | None:
    """``token_of``, else a ``BIOSTDSESS`` field of a form body (the real service's request
    parameters include the form's). The form is read as strictly as any other (UTF-8 or
    nothing); a body that cannot be read holds no token, and its handler says what is
    wrong with it. Raises NotAllowed as ``token_of`` does."""
    token = token_of(request, cookie)
    if token or request.method == "GET":
        return token
    try:
        return (await read_form(request)).get("BIOSTDSESS")
    except InvalidInput:
        return None


def _storage_mode_name(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


# BioStudies' clients send "NFS" or "FTP".
StorageModeName = Annotated[StorageMode, BeforeValidator(_storage_mode_name)]


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


class RegisterBody(BaseModel):
    model_config = BodyConfig
    email: Short
    name: Short
    password: Short
    # Null or absent is valid when no activation mail goes out; the core decides.
    instance_key: Short | None = Field(default=None, alias="instanceKey")
    path: Short | None = None
    captcha: Text | None = Field(default=None, alias="recaptcha2-response")
    orcid: Short | None = None
    # Lax on purpose: a form sends "true" or "false" as text (JSON sends a boolean);
    # anything but pydantic's usual spellings of a boolean is still a 400.
    notifications_enabled: bool = Field(default=False, alias="notificationsEnabled")
    storage_mode: StorageModeName | None = Field(default=None, alias="storageMode")

    @property
    def target(self) -> LinkTarget | None:
        if self.instance_key is None or self.path is None:
            return None
        return LinkTarget(self.instance_key, self.path)


def parse_registration(fields: dict[str, Any], needs_link_target: bool) -> RegisterBody:
    """Raises InvalidInput naming every problem, those the core would find too: an
    invalid e-mail whatever else is wrong (the real service's clients and tests look for
    "The provided email is not valid"), and a missing link target."""
    try:
        return parse_model(RegisterBody, fields)
    except InvalidInput as invalid:
        email = fields.get("email")
        if isinstance(email, str):
            invalid.problems.extend(email_problems(normalise_email(email)))
        if needs_link_target and (fields.get("instanceKey") is None or fields.get("path") is None):
            invalid.problems.append(MISSING_LINK_TARGET)
        raise


class ChangePasswordBody(BaseModel):
    model_config = BodyConfig
    activation_key: Short = Field(alias="activationKey")
    password: Short


class PasswordSetupBody(ChangePasswordBody):
    captcha: Text | None = Field(default=None, alias="recaptcha2-response")


class CheckRegistrationBody(BaseModel):
    model_config = BodyConfig
    user_email: Short = Field(alias="userEmail")
    user_name: Short = Field(alias="userName")


class BioStudiesApi:
    """Thin handlers: parse, make one core call, map the result."""

    def __init__(self, services: Services):
        self._services = services
        settings = services.settings
        self._cookie = session_cookie_of(
            settings.public_url, settings.cors_origins, settings.session_cookie_name
        )
        self._profiles = ProfileBodies(services.folders)

    def routes(self) -> list[BaseRoute]:
        post = ["POST"]
        return [
            Route("/auth/login", self.login, methods=post),
            Route("/auth/signin", self.login, methods=post),
            Route("/auth/logout", self.logout, methods=post),
            Route("/auth/signout", self.logout, methods=post),
            Route("/auth/profile", self.profile, methods=["GET"]),
            Route("/auth/check", self.profile, methods=["GET"]),
            Route("/auth/register", self.register, methods=post),
            Route("/auth/signup", self.register, methods=post),
            Route("/auth/activate/{key}", self.activate, methods=post),
            Route("/auth/activate", self.send_password_setup, methods=post),
            Route("/auth/retryact", self.retry_activation, methods=post),
            Route("/auth/password/reset", self.request_reset, methods=post),
            Route("/auth/password/change", self.change_password, methods=post),
            Route("/auth/password/setup", self.set_up_password, methods=post),
            Route("/auth/check-registration", self.check_registration, methods=post),
            Route("/auth/sessions", self.list_sessions, methods=["GET"]),
            Route("/auth/sessions/{id}", self.end_session, methods=["DELETE"]),
            Route("/auth/logout/all", self.logout_everywhere, methods=post),
            *BioStudiesAdminApi(self._services, self._caller).routes(),
            *BioStudiesTokensApi(self._services, self._caller).routes(),
        ]

    async def _body(self, request: Request, model: type[Body]) -> Body:
        return parse_model(model, await read_fields(request, allow_form=True))

    async def _token(self, request: Request) -> str | None:
        return await token_with_body_of(request, self._cookie)

    def _profile(self, account: Account, token: str) -> Response:
        return Response(self._profiles.of(account, token), 200, NO_STORE, media_type=JSON_TYPE)

    async def profile(self, request: Request) -> Response:
        # The hot path: one keyed hash, one indexed read, one orjson dump.
        token = await self._token(request)
        _, account = await self._services.sessions.resolve(token, Use.READ)
        assert token is not None
        return self._profile(account, token)

    async def login(self, request: Request) -> Response:
        body = await self._body(request, LoginBody)
        issued = await self._sign_in(body.login, body.password, request)
        return self._profile(issued.account, issued.token)

    async def _sign_in(self, login: str, password: str, request: Request) -> IssuedSession:
        # "Log in as" first: a superuser's token as the password is no failed login.
        client = client_of(request)
        issued = await self._services.impersonation.attempt(login, password, client)
        return issued or await self._services.login(login, password, client)

    async def logout(self, request: Request) -> Response:
        # Always 200, as the real service: a body we cannot read names no session, and
        # logging out of no session is what the caller wanted anyway.
        try:
            sessid = (await self._body(request, LogoutBody)).sessid
        except InvalidInput:
            sessid = None
        await self._services.sessions.close(
            sessid or await self._token(request), client_of(request)
        )
        return empty_response()

    async def register(self, request: Request) -> Response:
        body = parse_registration(
            await read_fields(request, allow_form=True),
            self._services.accounts.needs_link_target,
        )
        registration = Registration(
            email=body.email,
            password=body.password,
            full_name=body.name,
            orcid=body.orcid,
            notifications_enabled=body.notifications_enabled,
            storage_mode=body.storage_mode,
        )
        # BioStudies mails a link only when activation is required, as the real service.
        needs_link = self._services.accounts.needs_link_target
        await self._services.accounts.register(
            registration, body.target if needs_link else None, body.captcha, client_of(request)
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
        return json_response(password_changed(account), headers=NO_STORE)

    async def set_up_password(self, request: Request) -> Response:
        body = await self._body(request, PasswordSetupBody)
        account = await self._services.accounts.set_up_password(
            body.activation_key, body.password, body.captcha, client_of(request)
        )
        return json_response(password_changed(account), headers=NO_STORE)

    async def check_registration(self, request: Request) -> Response:
        caller = await self._caller(request)
        body = await self._body(request, CheckRegistrationBody)
        account = await self._services.admin.check_registration(
            caller, body.user_email, body.user_name, client_of(request)
        )
        return json_response(user_record(account, self._services.folders), headers=NO_STORE)

    # --- sessions under the user's control ------------------------------------------

    async def list_sessions(self, request: Request) -> Response:
        current, account = await self._services.sessions.resolve(await self._token(request))
        limit, cursor = page_asked(request)
        sessions = await self._services.sessions.page(account.id, limit, cursor)
        return page_response(request, sessions, lambda session: session_view(session, current.id))

    async def end_session(self, request: Request) -> Response:
        _, account = await self._services.sessions.resolve(await self._token(request))
        await self._services.sessions.close_one(
            account, request.path_params["id"], client_of(request)
        )
        return empty_response()

    async def logout_everywhere(self, request: Request) -> Response:
        _, account = await self._services.sessions.resolve(await self._token(request))
        ended = await self._services.sessions.close_all(account, client_of(request))
        return json_response({"ended": ended})

    async def _caller(self, request: Request, use: Use = Use.ACT) -> Account:
        _, caller = await self._services.sessions.resolve(await self._token(request), use)
        return caller
