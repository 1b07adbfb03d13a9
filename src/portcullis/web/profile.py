"""The signed-in user's pages: the profile and its edits, the sessions, the data, deletion."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from portcullis.core.errors import InvalidCredentials, PasswordRejected
from portcullis.core.models import (
    AccessToken,
    Account,
    IssuedAccessToken,
    ProfileChange,
    Session,
    TokenScope,
)
from portcullis.core.profiles import AccountData
from portcullis.http.common import client_of, status_of
from portcullis.locale import N_, translations
from portcullis.web.field_errors import by_field, details_checks, email_checks
from portcullis.web.forms import FORM_ERRORS, Form, FormPages, see_other
from portcullis.web.mailed_links import ACTIVATE, names_of
from portcullis.web.render import PREFIX
from portcullis.web.user_agents import parts
from portcullis.web.words import problems_of

DETAIL_FIELDS = ("name", "username", "orcid")
# The page shows the newest of each list: an account a script signs in for every job can
# hold thousands of sessions, and the page would read and render every one. "Sign out
# everywhere" still ends them all; the API pages through the rest.
SHOWN = 100
WRONG_PASSWORD = N_("The password is wrong.")
NOTICES = {
    "session-ended": N_("That session has ended."),
    "saved": N_("Your profile is saved."),
    "token-revoked": N_("That token is revoked."),
}

SignedInHandler = Callable[[Request, Form, Session, Account], Awaitable[Response]]


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _session_row(session: Session, current: Session) -> dict[str, Any]:
    return {
        "id": session.id,
        "current": session.id == current.id,
        "address": session.client_address or N_("an unknown address"),
        "browser": parts(session.user_agent)[0],
        "system": parts(session.user_agent)[1],
        "started": _when(session.created_at),
        "seen": _when(session.last_seen_at),
        "opened_by": session.opened_by,
    }


def _session_rows(sessions: Sequence[Session], current: Session) -> list[dict[str, Any]]:
    """This browser's session first, then the others, the last active first."""
    ordered = sorted(sessions, key=lambda s: (s.id != current.id, -s.last_seen_at.timestamp()))
    return [_session_row(s, current) for s in ordered]


def token_row(token: AccessToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "scope": token.scope.value,
        "made": _when(token.created_at),
        "expires": _when(token.expires_at),
        "used": _when(token.last_used_at) if token.last_used_at else N_("never"),
    }


def details_of(account: Account) -> dict[str, str]:
    return {
        "name": account.full_name,
        "username": account.username or "",
        "orcid": account.orcid or "",
    }


class ProfilePages(FormPages):
    def routes(self) -> list[BaseRoute]:
        get, post = ["GET"], ["POST"]
        return [
            Route(PREFIX + "/profile", self.profile, methods=get),
            Route(PREFIX + "/profile/details", self._signed_in_post(self.details), methods=post),
            Route(PREFIX + "/profile/email", self._signed_in_post(self.email), methods=post),
            Route(PREFIX + "/profile/password", self._signed_in_post(self.password), methods=post),
            Route(PREFIX + "/profile/data.json", self.data, methods=get),
            Route(PREFIX + "/profile/delete", self._signed_in_post(self.delete), methods=post),
            Route(PREFIX + "/sessions/end-all", self._post(self.end_all), methods=post),
            Route(
                PREFIX + "/sessions/{session_id}/end",
                self._signed_in_post(self.end_one),
                methods=post,
            ),
            Route(PREFIX + "/tokens", self._signed_in_post(self.make_token), methods=post),
            Route(
                PREFIX + "/tokens/{token_id}/revoke",
                self._signed_in_post(self.revoke_token),
                methods=post,
            ),
        ]

    def _signed_in_post(self, handler: SignedInHandler) -> Callable[[Request], Awaitable[Response]]:
        """A guarded POST for a signed-in browser; any other is sent to sign in."""

        async def signed_in(request: Request, form: Form) -> Response:
            who = await self._who(request)
            if who is None:
                return self._signed_out(see_other("/signin"))
            return await handler(request, form, *who)

        return self._post(signed_in)

    async def profile(self, request: Request) -> Response:
        who = await self._who(request)
        if who is None:
            return self._signed_out(see_other("/signin"))
        notice = NOTICES.get(request.query_params.get("done", ""))
        return await self._profile_page(request, *who, notice=notice)

    async def _profile_page(
        self,
        request: Request,
        current: Session,
        account: Account,
        status_code: int = 200,
        problems: Sequence[str] = (),
        *,
        values: Mapping[str, str] | None = None,
        notice: str | None = None,
        errors: Mapping[str, Sequence[str]] | None = None,
        new_token: IssuedAccessToken | None = None,
    ) -> Response:
        sessions = await self._services.sessions.page(account.id, SHOWN)
        tokens = await self._services.tokens.page(account.id, SHOWN)
        shown = list(sessions.items)
        if all(s.id != current.id for s in shown):
            shown.insert(0, current)  # this browser's, however old, is always there
        # Off the event loop: naming the browsers is regular-expression work.
        rows = await asyncio.to_thread(_session_rows, shown, current)
        return self._page(
            request,
            "profile.html",
            status_code,
            signed_in=True,
            account=account,
            sessions=rows,
            problems=problems,
            values=values or details_of(account),
            errors=errors or {},
            rules=self._rules(),
            rule_names=names_of(account),
            notice=notice,
            tokens=[token_row(t) for t in tokens.items],
            more_sessions=sessions.next is not None,
            more_tokens=tokens.next is not None,
            shown=SHOWN,
            new_token=new_token.token if new_token else None,
            max_days=self._services.tokens.max_lifetime.days,
        )

    async def details(
        self, request: Request, form: Form, current: Session, account: Account
    ) -> Response:
        change = ProfileChange(
            full_name=form.get("name", ""),
            username=form.get("username", ""),
            orcid=form.get("orcid", ""),
        )
        try:
            await self._services.profiles.update(account, change, client_of(request))
        except FORM_ERRORS as error:
            values = {k: form.get(k, "") for k in DETAIL_FIELDS}
            problems = problems_of(error)
            errors = by_field(problems, details_checks(form))
            return await self._profile_page(
                request, current, account, status_of(error), problems, values=values, errors=errors
            )
        return see_other("/profile?done=saved")

    async def email(
        self, request: Request, form: Form, current: Session, account: Account
    ) -> Response:
        new_email = form.get("email", "").strip()
        try:
            mailed = await self._services.email_changes.request(
                account, new_email, ACTIVATE, client_of(request)
            )
        except FORM_ERRORS as error:
            problems = problems_of(error)
            errors = by_field(problems, email_checks("new_email", form))
            return await self._profile_page(
                request, current, account, status_of(error), problems, errors=errors
            )
        words = translations(self._render.language_for(request.scope)).gettext
        notice = (
            words(
                N_(
                    "We have sent a link to %(new)s. Your address changes when you open it; "
                    "until then it stays %(old)s."
                )
            )
            % {"new": new_email, "old": account.email}
            if mailed
            else N_("That is your account's address already.")
        )
        return await self._profile_page(request, current, account, notice=notice)

    async def password(
        self, request: Request, form: Form, current: Session, account: Account
    ) -> Response:
        try:
            await self._services.accounts.change_password(
                account,
                form.get("current_password", ""),
                form.get("new_password", ""),
                client_of(request),
            )
        except FORM_ERRORS as error:
            problems = problems_of(error)
            errors: dict[str, Sequence[str]] = {}
            if isinstance(error, InvalidCredentials):
                problems = [N_("The current password is wrong.")]
                errors["current_password"] = problems
            elif isinstance(error, PasswordRejected):
                errors["new_password"] = problems
            return await self._profile_page(
                request, current, account, status_of(error), problems, errors=errors
            )
        return self._signed_out(see_other("/signin?done=password-changed"))

    async def data(self, request: Request) -> Response:
        who = await self._who(request)
        if who is None:
            return self._signed_out(see_other("/signin"))
        exported = await self._services.profiles.data_of(who[1])
        return Response(
            orjson.dumps(data_json(exported), option=orjson.OPT_INDENT_2),
            media_type="application/json",
            headers={
                **self._render.headers,
                "Content-Disposition": 'attachment; filename="account-data.json"',
            },
        )

    async def delete(
        self, request: Request, form: Form, current: Session, account: Account
    ) -> Response:
        try:
            await self._services.deletion.delete_own(
                account, form.get("password", ""), client_of(request)
            )
        except FORM_ERRORS as error:
            problems = (
                [WRONG_PASSWORD] if isinstance(error, InvalidCredentials) else problems_of(error)
            )
            errors = {"delete_password": problems} if isinstance(error, InvalidCredentials) else {}
            return await self._profile_page(
                request, current, account, status_of(error), problems, errors=errors
            )
        return self._signed_out(see_other("/signin?done=account-deleted"))

    async def end_one(
        self, request: Request, form: Form, current: Session, account: Account
    ) -> Response:
        session_id = request.path_params["session_id"]
        await self._services.sessions.close_one(account, session_id, client_of(request))
        if session_id == current.id:
            return self._signed_out(see_other("/signin?done=signed-out"))
        return see_other("/profile?done=session-ended")

    async def make_token(
        self, request: Request, form: Form, current: Session, account: Account
    ) -> Response:
        """The new token is shown on this one answer only: it is never stored."""
        try:
            scope = TokenScope(form.get("scope", "read"))
            days = form.get("days", "").strip()
            lifetime = timedelta(days=int(days)) if days.isascii() and days.isdigit() else None
            issued = await self._services.tokens.create(
                account, form.get("name", ""), scope, lifetime, client_of(request)
            )
        except ValueError:
            problems: Sequence[str] = [N_("Choose the read or full scope.")]
            return await self._profile_page(request, current, account, 400, problems)
        except FORM_ERRORS as error:
            return await self._profile_page(
                request, current, account, status_of(error), problems_of(error)
            )
        return await self._profile_page(request, current, account, new_token=issued)

    async def revoke_token(
        self, request: Request, form: Form, current: Session, account: Account
    ) -> Response:
        token_id = request.path_params["token_id"]
        await self._services.tokens.revoke(account, token_id, client_of(request))
        return see_other("/profile?done=token-revoked")

    async def end_all(self, request: Request, form: Form) -> Response:
        who = await self._who(request)
        if who is not None:
            await self._services.sessions.close_all(who[1], client_of(request))
        return self._signed_out(see_other("/signin?done=signed-out-everywhere"))


def data_json(data: AccountData) -> dict[str, Any]:
    """The download: the profile, the sessions and the account's events, never a secret."""
    account = data.account
    return {
        "profile": {
            "email": account.email,
            "email_verified": account.email_verified,
            "full_name": account.full_name,
            "username": account.username,
            "orcid": account.orcid,
            "status": account.status.value,
            "created_at": account.created_at.isoformat(),
            "last_activity_at": account.last_activity_at.isoformat()
            if account.last_activity_at
            else None,
            "permissions": [{"access": p.access.value, "tag": p.tag} for p in account.permissions],
            "profile_fields": {k: dict(v) for k, v in account.dialect_fields.items()},
        },
        "sessions": [
            {
                "started": s.created_at.isoformat(),
                "last_seen": s.last_seen_at.isoformat(),
                "expires": s.expires_at.isoformat(),
                "address": s.client_address,
                "user_agent": s.user_agent,
                "opened_by": s.opened_by,
            }
            for s in data.sessions
        ],
        "events": [
            {
                "at": e.at.isoformat(),
                "kind": e.kind.value,
                "detail": e.detail,
                "subject": e.subject,
                "address": e.client_address,
                "user_agent": e.user_agent,
            }
            for e in data.events
        ],
    }
