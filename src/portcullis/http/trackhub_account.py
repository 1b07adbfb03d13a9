"""The Track Hub Registry's account API beyond login, as its front end calls it.

Served under both ``/api/<x>`` and ``/api/user/<x>`` (the registry moved its routes;
its front end and documentation still use the first). Bodies are JSON, form or
multipart; a body's problems are a 400 in REST framework's shape (trackhub_fields).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

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
from portcullis.core.validation import username_problems
from portcullis.http.common import client_of, read_fields
from portcullis.http.trackhub import (
    NO_CREDENTIALS,
    answer,
    matches_legacy_user,
    token_of,
    token_refused,
)
from portcullis.http.trackhub_fields import FieldErrors, Fields, field_errors, non_field_errors
from portcullis.http.trackhub_profile import (
    CHECK_INTERVALS,
    DEFAULT_CHECK_INTERVAL,
    DIALECT,
    MAX_AFFILIATION,
    MAX_NAME,
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


def captcha_of(raw: dict[str, Any]) -> str | None:
    """The captcha answer, if the operator asks for one (the registry's front end sends
    none: a captcha is then for other clients of this service to pass)."""
    value = raw.get("recaptcha2-response")
    return value if isinstance(value, str) else None


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
        fields = Fields(raw)
        email = fields.email()
        check_interval = fields.choice("check_interval", CHECK_INTERVALS, required=True)
        first_name = fields.text("first_name", max_length=MAX_NAME)
        last_name = fields.text("last_name", max_length=MAX_NAME)
        affiliation = fields.text("affiliation", max_length=MAX_AFFILIATION)
        continuous_alert = fields.boolean("continuous_alert")
        fields.check()
        own = own_fields(account)
        full_name = None
        if first_name is not None or last_name is not None:
            shown_first, shown_last = names_of(account)
            first = shown_first if first_name is None else first_name
            last = shown_last if last_name is None else last_name
            full_name = full_name_of(first, last) or account.full_name
            own = with_names(own, first, last, full_name)
        own["check_interval"] = check_interval
        if affiliation is not None:
            own["affiliation"] = affiliation
        if continuous_alert is not None:
            own["continuous_alert"] = continuous_alert
        assert email is not None  # required: fields.check() refused a body without it
        change = ProfileChange(full_name=full_name, dialect_fields={DIALECT: own})
        client = client_of(request)
        # Another address is the account's only once the link mailed to it comes back.
        # Asked first, so that a refusal (429) leaves the profile as it was.
        changes = self._services.email_changes
        mailed = await changes.request(account, email, self._verify_target, client)
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
        raw = await read_fields(request, allow_form=True)
        fields = Fields(raw)
        email = fields.email()
        username = fields.text("username", required=True)
        password = fields.text("password", required=True, strip=False)
        password2 = fields.text("password2", required=True, strip=False)
        first_name = fields.text("first_name", max_length=MAX_NAME) or ""
        last_name = fields.text("last_name", max_length=MAX_NAME) or ""
        affiliation = fields.text("affiliation", max_length=MAX_AFFILIATION) or ""
        check_interval = fields.choice("check_interval", CHECK_INTERVALS)
        continuous_alert = fields.boolean("continuous_alert") or False
        if username is not None:
            fields.add("username", *username_problems(username))
        if password is not None and password2 is not None:
            if password != password2:
                fields.add("password", "Password fields didn't match.")
            elif email is not None:
                problems = self._services.accounts.password_problems(password, email, username)
                fields.add("password", *problems)
        fields.check()
        assert email is not None and username is not None and password is not None
        full_name = full_name_of(first_name, last_name) or username
        own = with_names({}, first_name, last_name, full_name) | {
            "affiliation": affiliation,
            "check_interval": check_interval or DEFAULT_CHECK_INTERVAL,
            "continuous_alert": continuous_alert,
        }
        registration = Registration(
            email=email,
            password=password,
            full_name=full_name,
            username=username,
            dialect_fields={DIALECT: own},
        )
        try:
            await self._services.accounts.register(
                registration, self._verify_target, captcha_of(raw), client_of(request)
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
        fields = Fields(await read_fields(request, allow_form=True))
        old = fields.text("old_password", required=True, strip=False)
        new = fields.text("new_password1", required=True, strip=False)
        confirmed = fields.text("new_password2", required=True, strip=False)
        if new is not None and confirmed is not None and new != confirmed:
            fields.add("new_password2", "The two password fields didn't match.")
        fields.check()
        assert old is not None and new is not None
        client = client_of(request)
        try:
            # Ends every session of the account, this one too (TooManyAttempts: 429).
            await self._services.accounts.change_password(account, old, new, client)
        except InvalidCredentials:
            message = "Your old password was entered incorrectly. Please enter it again."
            return field_errors({"old_password": [message]})
        except PasswordRejected as rejected:
            return field_errors({"new_password2": rejected.problems})
        issued = await self._services.sessions.open(account, client)
        body = {"success": "Your password is updated successfully!", "token": issued.token}
        return answer(body, headers=NO_STORE)

    async def request_reset(self, request: Request) -> Response:
        raw = await read_fields(request, allow_form=True)
        fields = Fields(raw)
        email = fields.email()
        fields.check()
        assert email is not None
        # The core's limits and captcha, as for BioStudies; known or not, the same answer.
        await self._services.accounts.request_reset(
            email, self._reset_target, captcha_of(raw), client_of(request)
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
        fields = Fields(await read_fields(request, allow_form=True))
        new = fields.text("new_password", required=True, strip=False)
        confirmed = fields.text("new_password_confirm", required=True, strip=False)
        uid = fields.text("uidb64", required=True)
        key = fields.text("token", required=True)
        if new is not None and confirmed is not None and new != confirmed:
            fields.add("new_password_confirm", "Password fields didn't match.")
        fields.check()
        assert new is not None and uid is not None and key is not None
        try:
            await self._services.accounts.change_password_with_key(
                key, new, client_of(request), uid=uid
            )
        except InvalidKey:
            return answer({"error": ["The reset link is invalid"]}, 400)
        except PasswordRejected as rejected:
            return field_errors({"new_password": rejected.problems})
        return answer({"success": "Password reset successfully!"})
