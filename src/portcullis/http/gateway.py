"""In front of the portal's other services: forward-auth for their proxies (``/auth/verify``)
and token introspection for their back ends (``/auth/introspect``, RFC 7662).

nginx ``auth_request``, Traefik ForwardAuth, Caddy ``forward_auth`` and Envoy
``ext_authz`` each ask this endpoint about every request they hold back, with whatever
token the client sent, and pass the identity headers of a 200 on to the service.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from portcullis.core.errors import InvalidInput, InvalidToken, NotAllowed
from portcullis.core.memo import Memo
from portcullis.core.models import Account, Session, TokenKind
from portcullis.core.sessions import Use
from portcullis.http.biostudies import fail
from portcullis.http.common import authorization_token, header_map, json_response, read_fields
from portcullis.http.cross_site import session_cookie_of
from portcullis.http.gateway_paths import Original, PathRules, ReturnAddresses, original_of
from portcullis.http.trackhub import legacy_token_of, matches_legacy_user
from portcullis.services import Services
from portcullis.web.forms import SESSION_COOKIE
from portcullis.web.render import PREFIX

VERIFY_PATH = "/auth/verify"
INTROSPECT_PATH = "/auth/introspect"
SERVICES_ONLY = "Only a service account's token may introspect tokens."
TOKEN_REQUIRED = "token: the token to introspect is required"  # noqa: S105 (a message)
# Through the whole stack too (a request naming an Origin behind CORS takes it).
VERIFY_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
BEARER = 'Bearer realm="portcullis"'
TOKEN = 'Token realm="portcullis"'  # noqa: S105 (a challenge, not a secret)
# Characters left as they are in an identity header; anything else (a non-ASCII name,
# a comma inside a tag) is percent-encoded UTF-8, so every header is plain ASCII.
HEADER_SAFE = "@.+-_~!$&'*:;=/ ()"
TRUE_WORDS = frozenset({"1", "true", "yes"})
NO_STORE = {"Cache-Control": "no-store"}


class IntrospectBody(BaseModel):
    """RFC 7662's request: the token asked about (other fields, such as
    ``token_type_hint``, are ignored)."""

    model_config = ConfigDict(extra="ignore")
    token: StrictStr = Field(description="The token asked about.")


@dataclass(frozen=True, slots=True)
class Presented:
    """The token a client sent, how it sent it, and the challenge that form calls for."""

    token: str | None
    challenge: str
    legacy: bool = False


def authorization_of(headers: Mapping[str, str]) -> Presented | None:
    """The token of ``Authorization: Bearer|Token``, challenged in its own scheme."""
    sent = authorization_token(headers)
    if sent is None:
        return None
    return Presented(sent[1], BEARER if sent[0] == "bearer" else TOKEN)


def header_value(text: str) -> str:
    return quote(text, safe=HEADER_SAFE)


def identity_headers(session: Session, account: Account) -> dict[str, str]:
    return {
        "X-Portcullis-User-Id": str(account.id),
        "X-Portcullis-Email": header_value(account.email),
        "X-Portcullis-Username": header_value(account.username or ""),
        "X-Portcullis-Superuser": "true" if account.superuser else "false",
        "X-Portcullis-Allow": ",".join(quote(tag, safe="") for tag in account.access_tags),
        "X-Portcullis-Session-Id": session.id,
        "X-Portcullis-Token-Kind": session.kind.value,
    }


class IdentityAnswers:
    """Forward-auth's 200s, their headers made once while the session and account stay the same.

    A proxy asks about every request it holds back, mostly for the same few sessions:
    quoting the identity headers and encoding them cost more than the rest of the
    answer. Each session's headers are kept as the Response made them, and made anew
    when the session or its account differs in any field.
    """

    def __init__(self) -> None:
        self._made: Memo[str, list[tuple[bytes, bytes]]] = Memo()  # by session id

    def answer(self, session: Session, account: Account) -> Response:
        # The hot path hands back the very objects while their row is unchanged (RowMemo).
        made = self._made.get(session.id, session, account)
        if made is not None:
            response = Response(b"", 200)
            response.raw_headers = list(made)  # a copy: the caller adds to it
            return response
        response = Response(b"", 200, identity_headers(session, account))
        self._made.keep(session.id, list(response.raw_headers), session, account)
        return response


def challenged(challenge: str, presented: bool) -> Response:
    """401 with ``challenge``, naming the error when a token was sent (RFC 6750)."""
    response = fail(InvalidToken.message, 401)
    response.headers["WWW-Authenticate"] = challenge + (
        ', error="invalid_token"' if presented else ""
    )
    return response


def introspection(session: Session, account: Account) -> dict[str, object]:
    """RFC 7662's answer for a live token, with the account's READ tags."""
    return {
        "active": True,
        "sub": str(account.id),
        "username": account.username or account.email,
        "email": account.email,
        "scope": session.scope.value,
        "exp": int(session.expires_at.timestamp()),
        "iat": int(session.created_at.timestamp()),
        "token_type": session.kind.value,
        "allow": list(account.access_tags),
    }


class ForwardAuth:
    """``/auth/verify``: 200 with identity headers, 401, 403, or (asked) a sign-in redirect."""

    def __init__(self, services: Services):
        self._services = services
        settings = services.settings
        self._cookie = session_cookie_of(
            settings.public_url, settings.cors_origins, settings.session_cookie_name
        )
        self._rules = PathRules(settings.gateway_rules)
        self._returns = ReturnAddresses(settings.public_url, settings.all_instances.values())
        self._signin = f"{settings.public_url}{PREFIX}/signin"
        self._answers = IdentityAnswers()

    def presented(
        self, request: Request, headers: Mapping[str, str], original: Original
    ) -> Presented:
        """Every form a client sends a token in, the header first.

        The cookies stand for the original request: a state change from another site
        may not use them (NotAllowed), as on this service's own API.
        """
        if sent := authorization_of(headers):
            return sent
        if legacy := legacy_token_of(headers):
            return Presented(legacy, TOKEN, legacy=True)
        token = headers.get("x-session-token")
        if not token and "cookie" in headers:
            method = original.method
            token = self._cookie.token(request, method) or self._cookie.token(
                request, method, SESSION_COOKIE
            )
        if not token and request.scope["query_string"]:
            token = request.query_params.get("BIOSTDSESS")
        return Presented(token or original.query.get("BIOSTDSESS"), BEARER)

    async def verify(self, request: Request) -> Response:
        # The portal's hot path: every request a proxy holds back asks it. So the headers
        # are read in one pass, and nothing is parsed that the request does not carry.
        headers = header_map(request.scope)
        original = original_of(headers, request.method, request.scope["path"])
        presented = self.presented(request, headers, original)
        try:
            session, account = await self._services.sessions.resolve(presented.token, Use.READ)
            if presented.legacy and not matches_legacy_user(headers, account):
                raise InvalidToken()
        except InvalidToken:
            return self._refused(request, presented, original)
        asked = request.query_params.getlist("allow") if request.scope["query_string"] else ()
        wanted = self._rules.wanted(original.path, asked)
        if wanted:
            held = account.access_tags
            missing = next((tag for tag in wanted if tag not in held), None)
            if missing is not None:
                return fail(f"Access to this resource needs the tag {missing}.", 403)
        return self._answers.answer(session, account)

    def _refused(self, request: Request, presented: Presented, original: Original) -> Response:
        if request.query_params.get("redirect", "").lower() in TRUE_WORDS:
            back = self._returns.checked(request.query_params.get("rd") or original.url)
            query = f"?{urlencode({'next': back})}" if back else ""
            return RedirectResponse(self._signin + query, 302)
        return challenged(presented.challenge, bool(presented.token))

    async def introspect(self, request: Request) -> Response:
        """RFC 7662 for a service account's token: the caller's token in Authorization
        (or X-Session-Token), the one asked about in the ``token`` field of the body."""
        # A back end's own credential: a header, never a cookie or a query parameter.
        asking = authorization_of(request.headers) or Presented(
            request.headers.get("x-session-token"), BEARER
        )
        try:
            caller, _ = await self._services.sessions.resolve(asking.token, Use.READ)
        except InvalidToken:
            return challenged(asking.challenge, bool(asking.token))
        if caller.kind is not TokenKind.SERVICE:
            raise NotAllowed(SERVICES_ONLY)
        try:
            body = IntrospectBody.model_validate(await read_fields(request, allow_form=True))
        except ValidationError:
            raise InvalidInput([TOKEN_REQUIRED]) from None  # absent, or not text
        try:
            session, account = await self._services.sessions.resolve(body.token, Use.READ)
        except InvalidToken:
            return json_response({"active": False}, headers=NO_STORE)
        return json_response(introspection(session, account), headers=NO_STORE)
