"""What every account page shares: its CSRF token, the guarded POST, the session cookie."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from portcullis.core.errors import (
    AlreadyRegistered,
    CaptchaFailed,
    InvalidCredentials,
    InvalidInput,
    InvalidToken,
    NotAllowed,
    PortcullisError,
    TooManyAttempts,
)
from portcullis.core.models import Account, Session
from portcullis.core.passwords import MAX_PASSWORD_LENGTH
from portcullis.core.sessions import Use
from portcullis.http.common import refuse_null_characters, status_of
from portcullis.http.forms import read_form
from portcullis.locale import N_
from portcullis.services import Services
from portcullis.web import csrf
from portcullis.web.field_errors import by_field, email_checks
from portcullis.web.render import PREFIX, Renderer
from portcullis.web.words import problems_of

SESSION_COOKIE = "portcullis-session"
# Errors a form shows on the page; anything else is an error page.
FORM_ERRORS = (InvalidInput, InvalidCredentials, TooManyAttempts, CaptchaFailed, AlreadyRegistered)

Form = Mapping[str, str]
FormHandler = Callable[[Request, Form], Awaitable[Response]]


def see_other(path: str) -> RedirectResponse:
    return RedirectResponse(PREFIX + path, status_code=303)


class FormPages:
    """The plumbing the page handlers stand on; each handler class extends it."""

    def __init__(self, services: Services, renderer: Renderer):
        self._services = services
        self._render = renderer
        self._settings = services.settings
        self._csrf = csrf.Csrf(services.server_secret)

    def _page(
        self, request: Request, template: str, status_code: int = 200, **values: Any
    ) -> Response:
        nonce = self._csrf.usable_nonce(request.cookies.get(csrf.COOKIE)) or getattr(
            request.state, "csrf_nonce", None
        )
        if nonce is None:
            nonce = request.state.csrf_nonce = self._csrf.new_nonce()
        token = self._csrf.token_for(nonce, request.cookies.get(SESSION_COOKIE))
        language = self._render.language_for(request.scope)
        response = self._render.page(template, status_code, language, csrf_token=token, **values)
        if request.cookies.get(csrf.COOKIE) != nonce:
            self._set_cookie(response, csrf.COOKIE, nonce, max_age=None)
        return response

    def _set_cookie(self, response: Response, name: str, value: str, max_age: int | None) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=PREFIX,
            secure=self._settings.cookie_secure,
            httponly=True,
            samesite="lax",
        )

    def _renew_csrf(self, response: Response) -> Response:
        """A fresh nonce, so that no token shown before this answer works after it."""
        self._set_cookie(response, csrf.COOKIE, self._csrf.new_nonce(), max_age=None)
        return response

    def _signed_in(self, response: Response, session_token: str) -> Response:
        self._set_cookie(
            response, SESSION_COOKIE, session_token, self._settings.session_lifetime_seconds
        )
        return self._renew_csrf(response)

    def _signed_out(self, response: Response) -> Response:
        response.delete_cookie(
            SESSION_COOKIE,
            path=PREFIX,
            secure=self._settings.cookie_secure,
            httponly=True,
            samesite="lax",
        )
        return self._renew_csrf(response)

    def _post(self, handler: FormHandler) -> Callable[[Request], Awaitable[Response]]:
        """Read the form and refuse it unless its CSRF token matches this browser's cookies."""

        async def guarded(request: Request) -> Response:
            try:
                form = await read_form(request)
            except InvalidInput:
                # Not UTF-8 (see http/forms.py): so it carries no token that could match.
                form = {}
            cookies = request.cookies
            if not self._csrf.valid(
                cookies.get(csrf.COOKIE), cookies.get(SESSION_COOKIE), form.get(csrf.FIELD)
            ):
                return self._page(request, "expired.html", 403, title=N_("Please try again"))
            refuse_null_characters(form)
            return await handler(request, form)

        return guarded

    def _email_refused(
        self, request: Request, template: str, form: Form, error: PortcullisError
    ) -> Response:
        """A one-address form again, its problems beside the field."""
        problems = problems_of(error)
        return self._page(
            request,
            template,
            status_of(error),
            email=form.get("email", ""),
            problems=problems,
            errors=by_field(problems, email_checks("email", form)),
        )

    def _rules(self) -> dict[str, Any]:
        """The password rules for a form: each with the name of its check for the script."""
        accounts = self._services.accounts
        return {
            "items": list(zip(accounts.password_rule_checks, accounts.password_rules, strict=True)),
            "min": self._settings.password_min_length,
            "max": MAX_PASSWORD_LENGTH,
        }

    async def _who(self, request: Request) -> tuple[Session, Account] | None:
        try:
            # The pages are a person's, signed in: no access token opens them.
            cookie = request.cookies.get(SESSION_COOKIE)
            return await self._services.sessions.resolve(cookie, Use.ACCOUNT)
        except (InvalidToken, NotAllowed):
            return None
