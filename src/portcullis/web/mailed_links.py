"""The pages our mails link to: activation and setting a password with a mailed key.

Mail security scanners fetch every link in a message, some with HEAD, before the person
does. So opening a link (GET or HEAD) only shows a page; the key is used, and the account
changed, only by that page's form, a POST with its CSRF token.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from portcullis.core.errors import AddressTaken, InvalidKey, PasswordRejected
from portcullis.core.models import Account, KeyPurpose, LinkTarget
from portcullis.http.common import client_of, status_of
from portcullis.web.forms import FORM_ERRORS, Form, FormPages, see_other
from portcullis.web.render import PREFIX
from portcullis.web.words import USED_LINK, problems_of

ACTIVATE_PATH = PREFIX + "/activate/{key}"
RESEND_PATH = PREFIX + "/activation/resend"
# The mailed links of the built-in "default" instance land on these pages.
ACTIVATE = LinkTarget("default", "activate")
RESET_PATH = PREFIX + "/password/reset/{key}"


class MailedLinkPages(FormPages):
    def routes(self) -> list[BaseRoute]:
        get, post = ["GET"], ["POST"]  # Starlette answers HEAD wherever it answers GET
        return [
            Route(ACTIVATE_PATH, self.activate_form, methods=get),
            Route(ACTIVATE_PATH, self._post(self.activate), methods=post),
            Route(RESEND_PATH, self.resend_form, methods=get),
            Route(RESEND_PATH, self._post(self.resend), methods=post),
            Route(RESEND_PATH + "/check-mail", self.resend_sent, methods=get),
            Route(RESET_PATH, self.reset_form, methods=get),
            Route(RESET_PATH, self._post(self.reset), methods=post),
        ]

    async def activate_form(self, request: Request) -> Response:
        """Ask for the click, or say at once that the link is dead; the key stays unused."""
        try:
            await self._services.accounts.account_to_activate(request.path_params["key"])
        except InvalidKey:
            return self._page(request, "activated.html", 400, problems=[USED_LINK])
        return self._page(request, "activate.html")

    async def activate(self, request: Request, form: Form) -> Response:
        try:
            proved = await self._services.accounts.activate(
                request.path_params["key"], client_of(request)
            )
        except InvalidKey:
            return self._page(request, "activated.html", 400, problems=[USED_LINK])
        except AddressTaken as taken:
            return self._page(request, "activated.html", 400, problems=[taken.message])
        new_address = proved is KeyPurpose.EMAIL_CHANGE
        return self._page(request, "activated.html", problems=[], new_address=new_address)

    async def resend_form(self, request: Request) -> Response:
        return self._page(request, "resend.html", email="", problems=[])

    async def resend(self, request: Request, form: Form) -> Response:
        """A fresh activation link if the address waits for one; the answer never tells."""
        email = form.get("email", "")
        try:
            await self._services.accounts.resend_activation(email, ACTIVATE)
        except FORM_ERRORS as error:
            return self._email_refused(request, "resend.html", form, error)
        return see_other("/activation/resend/check-mail")

    async def resend_sent(self, request: Request) -> Response:
        return self._page(request, "check_mail.html", reason="resend")

    async def reset_form(self, request: Request) -> Response:
        """The form, or at once the word that the link is dead; the key stays unused."""
        try:
            account = await self._services.accounts.account_for_reset_key(
                request.path_params["key"]
            )
        except InvalidKey:
            return self._reset_page(request, 400, [USED_LINK], link_dead=True)
        return self._reset_page(request, 200, [], account=account)

    async def reset(self, request: Request, form: Form) -> Response:
        try:
            await self._services.accounts.change_password_with_key(
                request.path_params["key"], form.get("password", ""), client_of(request)
            )
        except (InvalidKey, *FORM_ERRORS) as error:
            problems = problems_of(error)
            errors = {"password": problems} if isinstance(error, PasswordRejected) else {}
            return self._reset_page(
                request,
                status_of(error),
                problems,
                link_dead=isinstance(error, InvalidKey),
                errors=errors,
            )
        return self._signed_out(see_other("/signin?done=password-set"))

    def _reset_page(
        self,
        request: Request,
        status_code: int,
        problems: Sequence[str],
        link_dead: bool = False,
        errors: Mapping[str, Sequence[str]] | None = None,
        account: Account | None = None,
    ) -> Response:
        return self._page(
            request,
            "reset.html",
            status_code,
            problems=problems,
            link_dead=link_dead,
            errors=errors or {},
            rule_names=names_of(account),
            rules=self._rules(),
        )


def names_of(account: Account | None) -> str:
    """What a new password must not contain, for the script that checks it as it is typed."""
    if account is None:
        return ""
    return " ".join(filter(None, (account.email.split("@", 1)[0], account.username)))
