"""The Track Hub Registry's account API beyond login, as its front end calls it.

Served under both ``/api/<x>`` and ``/api/user/<x>`` (the registry moved its routes;
its front end and documentation still use the first). Bodies are JSON, form or
multipart, parsed with the models of ``trackhub_bodies`` (those the OpenAPI document
shows); a body's problems are a 400 in REST framework's shape (trackhub_fields).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from portcullis.config import DEFAULT_INSTANCE
from portcullis.core.accounts import USERNAME_TAKEN
from portcullis.core.errors import (
    AddressTaken,
    AlreadyRegistered,
    InvalidCredentials,
    InvalidInput,
    InvalidKey,
    PasswordRejected,
)
from portcullis.core.models import Account, KeyPurpose, LinkTarget, ProfileChange, Registration
from portcullis.core.sessions import Use
from portcullis.http.common import client_of, read_fields
from portcullis.http.trackhub import (
    NO_CREDENTIALS,
    answer,
    matches_legacy_user,
    token_of,
    token_refused,
)
from portcullis.http.trackhub_bodies import (
    PASSWORD_POLICY,
    ChangePasswordFields,
    ProfileFields,
    RegisterFields,
    ResetFields,
    ResetMailFields,
)
from portcullis.http.trackhub_fields import (
    FieldErrors,
    field_errors,
    non_field_errors,
    parse_fields,
)
from portcullis.http.trackhub_profile import (
    DEFAULT_CHECK_INTERVAL,
    DIALECT,
    full_name_of,
    names_of,
    own_fields,
    profile_view,
    with_names,
)
from portcullis.services import Services

Handler = Callable[[Request], Awaitable[Response]]
NO_STORE = {"Cache-Control": "no-store"}
EMAIL_IN_USE = {"email": ["Email already in use"]}
USERNAME_IN_USE = {"username": ["A user with that username already exists."]}
# What new_key makes: anything else cannot be a key we mailed ("Invalid token!").
KEY_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,256}")
# The pages' own links, for an operator who configured no front end of the registry.
PAGES_VERIFY = LinkTarget(DEFAULT_INSTANCE, "activate")
PAGES_RESET = LinkTarget(DEFAULT_INSTANCE, "password/reset")


def field_answers(handler: Handler) -> Handler:
    """Tell a body's problems in REST framework's shape; other core errors go on to the
    dialect's error handler (401, 429, 503 with ``error``)."""

    async def answering(request: Request) -> Response:
        try:
            return await handler(request)
        except FieldErrors as invalid:
            return field_errors(invalid.errors)
        except InvalidInput as invalid:
            return non_field_errors(invalid.problems)

    return answering


class TrackHubAccountApi:
    """Thin handlers: parse, make one core call, map the result."""

    def __init__(self, services: Services):
        self._services = services
        settings = services.settings
        instances = settings.all_instances
        self._verify_target = (
            LinkTarget(settings.trackhub_verify_instance, "")
            if settings.trackhub_verify_instance in instances
            else PAGES_VERIFY
        )
        self._reset_target = (
            LinkTarget(settings.trackhub_reset_instance, "")
            if settings.trackhub_reset_instance in instances
            else PAGES_RESET
        )

    def routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = [
            Route("/api/user", field_answers(self.profile), methods=["GET"]),
            Route("/api/user", field_answers(self.update_profile), methods=["POST"]),
        ]
        views: list[tuple[str, Handler, list[str]]] = [
            ("register", self.register, ["POST"]),
            ("email_verification", self.verify_email, ["GET"]),
            ("change_password", self.change_password, ["PUT", "PATCH", "POST"]),
            ("reset_password_email", self.request_reset, ["POST"]),
            ("reset_password", self.check_reset, ["GET"]),
            ("reset_password_complete", self.complete_reset, ["PUT", "PATCH", "POST"]),
        ]
        for prefix in ("/api", "/api/user"):
            for name, handler, methods in views:
                routes.append(Route(f"{prefix}/{name}", field_answers(handler), methods=methods))
        return routes

    async def _signed_in(self, request: Request, use: Use = Use.ACT) -> Account | Response:
        token = token_of(request)
        if not token:
            return token_refused(NO_CREDENTIALS)
        _, account = await self._services.sessions.resolve(token, use)  # InvalidToken: 401
        if not matches_legacy_user(request.headers, account):
            return token_refused()
        return account

    # --- the profile --------------------------------------------------------------

    async def profile(self, request: Request) -> Response:
        account = await self._signed_in(request, Use.READ)
        if isinstance(account, Response):
            return account
        return answer(profile_view(account), headers=NO_STORE)

    async def update_profile(self, request: Request) -> Response:
        account = await self._signed_in(request)
        if isinstance(account, Response):
            return account
        raw = await read_fields(request, allow_form=True)
        if not raw:
            return answer({"error": "Missing message body in request"}, 400)
        body = parse_fields(ProfileFields, raw)
        own = own_fields(account)
        full_name = None
        if body.first_name is not None or body.last_name is not None:
            shown_first, shown_last = names_of(account)
            first = shown_first if body.first_name is None else body.first_name
            last = shown_last if body.last_name is None else body.last_name
            full_name = full_name_of(first, last) or account.full_name
            own = with_names(own, first, last, full_name)
        own["check_interval"] = body.check_interval
        if body.affiliation is not None:
            own["affiliation"] = body.affiliation
        if body.continuous_alert is not None:
            own["continuous_alert"] = body.continuous_alert
        change = ProfileChange(full_name=full_name, dialect_fields={DIALECT: own})
        client = client_of(request)
        # Another address is the account's only once the link mailed to it comes back.
        # Asked first, so that a refusal (429) leaves the profile as it was.
        changes = self._services.email_changes
        mailed = await changes.request(account, body.email, self._verify_target, client)
        await self._services.profiles.update(account, change, client)
        if mailed:
            return answer(
                {
                    "success": "User profile updated successfully! "
                    "A verification link has been sent to your new email address"
                }
            )
        return answer({"success": "User profile updated successfully!"})

    # --- registering and verifying ------------------------------------------------

    async def register(self, request: Request) -> Response:
        policy = {PASSWORD_POLICY: self._services.accounts.password_problems}
        body = parse_fields(RegisterFields, await read_fields(request, allow_form=True), policy)
        first_name, last_name = body.first_name or "", body.last_name or ""
        full_name = full_name_of(first_name, last_name) or body.username
        own = with_names({}, first_name, last_name, full_name) | {
            "affiliation": body.affiliation or "",
            "check_interval": body.check_interval or DEFAULT_CHECK_INTERVAL,
            "continuous_alert": body.continuous_alert or False,
        }
        registration = Registration(
            email=body.email,
            password=body.password,
            full_name=full_name,
            username=body.username,
            dialect_fields={DIALECT: own},
        )
        try:
            await self._services.accounts.register(
                registration, self._verify_target, body.captcha, client_of(request)
            )
        except AlreadyRegistered:
            return field_errors(EMAIL_IN_USE)
        except InvalidInput as invalid:
            if USERNAME_TAKEN in invalid.problems:
                return field_errors(USERNAME_IN_USE)
            raise
        return answer(
            {
                "success": "User registered successfully! "
                "A verification link has been sent to your email address"
            },
            201,
        )

    async def verify_email(self, request: Request) -> Response:
        key = request.query_params.get("token", "")
        if not KEY_SHAPE.fullmatch(key):
            return answer({"error": "Invalid token!"}, 400)
        try:
            proved = await self._services.accounts.activate(key, client_of(request))
        except InvalidKey:
            message = "This activation link is expired or have already been used!"
            return answer({"error": message}, 400)
        except AddressTaken:
            return answer({"error": EMAIL_IN_USE["email"][0]}, 400)
        if proved is KeyPurpose.EMAIL_CHANGE:
            return answer({"success": "Email address updated! It is your account's email now"})
        return answer({"success": "Account activated! Please login to your account"})

    # --- passwords ----------------------------------------------------------------

    async def change_password(self, request: Request) -> Response:
        account = await self._signed_in(request, Use.ACCOUNT)
        if isinstance(account, Response):
            return account
        body = parse_fields(ChangePasswordFields, await read_fields(request, allow_form=True))
        client = client_of(request)
        try:
            # Ends every session of the account, this one too (TooManyAttempts: 429).
            await self._services.accounts.change_password(
                account, body.old_password, body.new_password1, client
            )
        except InvalidCredentials:
            message = "Your old password was entered incorrectly. Please enter it again."
            return field_errors({"old_password": [message]})
        except PasswordRejected as rejected:
            return field_errors({"new_password2": rejected.problems})
        issued = await self._services.sessions.open(account, client)
        changed = {"success": "Your password is updated successfully!", "token": issued.token}
        return answer(changed, headers=NO_STORE)

    async def request_reset(self, request: Request) -> Response:
        body = parse_fields(ResetMailFields, await read_fields(request, allow_form=True))
        # The core's limits and captcha, as for BioStudies; known or not, the same answer.
        await self._services.accounts.request_reset(
            body.email, self._reset_target, body.captcha, client_of(request)
        )
        return answer({"success": "We have sent you a link to reset your password"})

    async def check_reset(self, request: Request) -> Response:
        uid = request.query_params.get("uidb64", "")
        key = request.query_params.get("token", "")
        try:
            await self._services.accounts.account_to_reset(uid, key)
        except InvalidKey:
            return answer({"error": "Token is not valid, please request a new one"}, 400)
        body = {"success": "Credentials are Valid", "uidb64": uid, "token": key}
        return answer(body, headers=NO_STORE)

    async def complete_reset(self, request: Request) -> Response:
        body = parse_fields(ResetFields, await read_fields(request, allow_form=True))
        try:
            await self._services.accounts.change_password_with_key(
                body.token, body.new_password, client_of(request), uid=body.uidb64
            )
        except InvalidKey:
            return answer({"error": ["The reset link is invalid"]}, 400)
        except PasswordRejected as rejected:
            return field_errors({"new_password": rejected.problems})
        return answer({"success": "Password reset successfully!"})
