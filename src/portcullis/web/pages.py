"""The account pages: thin handlers that parse a form, make one core call, render the answer."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from portcullis.core.models import LinkTarget, Registration
from portcullis.http.common import client_of, status_of
from portcullis.http.gateway_paths import ReturnAddresses
from portcullis.locale import N_
from portcullis.services import Services
from portcullis.web.field_errors import by_field, details_checks, email_checks, password_checks
from portcullis.web.forms import FORM_ERRORS, SESSION_COOKIE, Form, FormPages, see_other
from portcullis.web.mailed_links import ACTIVATE, MailedLinkPages
from portcullis.web.profile import ProfilePages
from portcullis.web.render import PREFIX, STATIC, Renderer
from portcullis.web.words import problems_of

# The mailed links of the built-in "default" instance land on these pages.
RESET = LinkTarget("default", "password/reset")
# What the sign-in page says after a redirect, by the ``done`` parameter.
NOTICES = {
    "signed-out": N_("You are signed out."),
    "signed-out-everywhere": N_(
        "You are signed out everywhere: every session of your account ended."
    ),
    "password-set": N_("Your new password is set. You were signed out everywhere; please sign in."),
    "password-changed": N_(
        "Your password is changed. You were signed out everywhere; "
        "please sign in with the new password."
    ),
    "account-deleted": N_(
        "Your account is deleted and every session of it ended. A notice went to its address."
    ),
}
REGISTER_FIELDS = ("email", "name", "orcid", "username")
CAPTCHA_FIELDS = ("g-recaptcha-response", "h-captcha-response", "cf-turnstile-response")


class AccountPages(FormPages):
    def __init__(self, services: Services):
        self.renderer = Renderer(services.settings)
        super().__init__(services, self.renderer)
        self._mailed_links = MailedLinkPages(services, self.renderer)
        self._profile = ProfilePages(services, self.renderer)
        settings = services.settings
        self._returns = ReturnAddresses(settings.public_url, settings.all_instances.values())

    def routes(self) -> list[BaseRoute]:
        get, post = ["GET"], ["POST"]
        return [
            # The site's root and icon, for a person who types only the host name.
            Route("/", self.root, methods=get),
            Route("/favicon.ico", self.favicon, methods=get),
            Route(PREFIX, self.home, methods=get),
            Route(PREFIX + "/", self.home, methods=get),
            Route(PREFIX + "/theme.css", self.theme, methods=get),
            Mount(PREFIX + "/static", StaticFiles(directory=STATIC), name="account-static"),
            Route(PREFIX + "/signin", self.signin_form, methods=get),
            Route(PREFIX + "/signin", self._post(self.signin), methods=post),
            Route(PREFIX + "/signout", self._post(self.signout), methods=post),
            Route(PREFIX + "/register", self.register_form, methods=get),
            Route(PREFIX + "/register", self._post(self.register), methods=post),
            Route(PREFIX + "/register/check-mail", self.register_sent, methods=get),
            *self._mailed_links.routes(),
            Route(PREFIX + "/password/forgot", self.forgot_form, methods=get),
            Route(PREFIX + "/password/forgot", self._post(self.forgot), methods=post),
            Route(PREFIX + "/password/forgot/check-mail", self.forgot_sent, methods=get),
            *self._profile.routes(),
        ]

    # --- pages --------------------------------------------------------------------

    async def root(self, request: Request) -> Response:
        # The session cookie is sent under /account only: the pages there decide.
        return see_other("/")

    async def favicon(self, request: Request) -> Response:
        return FileResponse(
            STATIC / "favicon.ico",
            media_type="image/x-icon",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    async def home(self, request: Request) -> Response:
        return see_other("/profile" if await self._who(request) else "/signin")

    async def theme(self, request: Request) -> Response:
        return Response(
            self._render.theme_css, media_type="text/css", headers={"Cache-Control": "no-cache"}
        )

    async def signin_form(self, request: Request) -> Response:
        notice = NOTICES.get(request.query_params.get("done", ""))
        # Where forward-auth sent the browser from; kept only on a trusted origin.
        back = self._returns.checked(request.query_params.get("next")) or ""
        return self._page(request, "signin.html", notice=notice, login="", problems=[], next=back)

    async def signin(self, request: Request, form: Form) -> Response:
        login = form.get("login", "")
        try:
            issued = await self._services.login(login, form.get("password", ""), client_of(request))
        except FORM_ERRORS as error:
            return self._page(
                request,
                "signin.html",
                status_of(error),
                notice=None,
                login=login,
                problems=problems_of(error),
                next=self._returns.checked(form.get("next")) or "",
            )
        back = self._returns.checked(form.get("next"))
        answer = RedirectResponse(back, 303) if back else see_other("/profile")
        return self._signed_in(answer, issued.token)

    async def signout(self, request: Request, form: Form) -> Response:
        await self._services.sessions.close(request.cookies.get(SESSION_COOKIE))
        return self._signed_out(see_other("/signin?done=signed-out"))

    async def register_form(self, request: Request) -> Response:
        return self._page(
            request,
            "register.html",
            values=dict.fromkeys(REGISTER_FIELDS, ""),
            problems=[],
            rules=self._rules(),
        )

    async def register(self, request: Request, form: Form) -> Response:
        registration = Registration(
            email=form.get("email", ""),
            password=form.get("password", ""),
            full_name=form.get("name", ""),
            orcid=form.get("orcid", "").strip() or None,
            username=form.get("username", "").strip() or None,
        )
        try:
            await self._services.accounts.register(
                registration, ACTIVATE, _captcha(form), client_of(request)
            )
        except FORM_ERRORS as error:
            values = {k: form.get(k, "") for k in REGISTER_FIELDS}
            problems = problems_of(error)
            checks = {
                **details_checks(form),
                **email_checks("email", form),
                **password_checks(
                    self._services.accounts,
                    "password",
                    registration.password,
                    registration.email,
                    registration.username,
                ),
            }
            return self._page(
                request,
                "register.html",
                status_of(error),
                values=values,
                problems=problems,
                errors=by_field(problems, checks),
                rules=self._rules(),
            )
        return see_other("/register/check-mail")

    async def register_sent(self, request: Request) -> Response:
        return self._page(request, "check_mail.html", reason="register")

    async def forgot_form(self, request: Request) -> Response:
        return self._page(request, "forgot.html", email="", problems=[])

    async def forgot(self, request: Request, form: Form) -> Response:
        email = form.get("email", "")
        try:
            await self._services.accounts.request_reset(
                email, RESET, _captcha(form), client_of(request)
            )
        except FORM_ERRORS as error:
            return self._email_refused(request, "forgot.html", form, error)
        return see_other("/password/forgot/check-mail")

    async def forgot_sent(self, request: Request) -> Response:
        return self._page(request, "check_mail.html", reason="forgot")


def _captcha(form: Form) -> str | None:
    return next((form[name] for name in CAPTCHA_FIELDS if form.get(name)), None)
