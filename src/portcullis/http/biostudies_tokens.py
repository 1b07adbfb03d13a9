"""Access tokens in the BioStudies dialect: a person's own under /auth/tokens, and the
superusers' service accounts and their tokens under /auth/services."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr, StringConstraints
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from portcullis.core.models import AccessToken, Account, IssuedAccessToken, TokenScope
from portcullis.core.sessions import Use
from portcullis.http.biostudies_views import local_date_time
from portcullis.http.common import (
    client_of,
    empty_response,
    json_response,
    parse_model,
    read_fields,
)
from portcullis.http.paging import page_asked, page_response
from portcullis.services import Services

NO_STORE = {"Cache-Control": "no-store"}
Caller = Callable[[Request, Use], Awaitable[Account]]
Name = Annotated[StrictStr, StringConstraints(max_length=1024)]


class NewTokenBody(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    name: Name
    scope: TokenScope = TokenScope.READ
    # Whole days; absent: the longest allowed.
    expires_in_days: int | None = Field(default=None, alias="expiresInDays")


class NewServiceBody(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    name: Name
    tags: list[Name] = Field(default_factory=list, max_length=1000)


def token_view(token: AccessToken) -> dict[str, Any]:
    """A token as lists show it: never the token itself, which exists only once."""
    return {
        "id": token.id,
        "name": token.name,
        "kind": token.kind.value,
        "scope": token.scope.value,
        "created": local_date_time(token.created_at),
        "expires": local_date_time(token.expires_at),
        "lastUsed": local_date_time(token.last_used_at) if token.last_used_at else None,
    }


def issued_view(issued: IssuedAccessToken) -> dict[str, Any]:
    return {**token_view(issued.access_token), "token": issued.token}


def service_view(account: Account) -> dict[str, Any]:
    return {"name": account.username, "id": account.id, "allow": list(account.access_tags)}


def lifetime_of(days: int | None) -> timedelta | None:
    """``days`` as a lifetime, held within what a timedelta holds (the fuzzer sent 45
    billion): the core then refuses any lifetime beyond the configured longest."""
    if days is None:
        return None
    return timedelta(days=max(-timedelta.max.days, min(days, timedelta.max.days)))


class BioStudiesTokensApi:
    """Thin handlers: parse, make one core call, map the result."""

    def __init__(self, services: Services, caller: Caller):
        self._services = services
        self._caller = caller

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/auth/tokens", self.list_tokens, methods=["GET"]),
            Route("/auth/tokens", self.create_token, methods=["POST"]),
            Route("/auth/tokens/{id}", self.revoke_token, methods=["DELETE"]),
            Route("/auth/services", self.list_services, methods=["GET"]),
            Route("/auth/services", self.add_service, methods=["POST"]),
            Route("/auth/services/{name}/tokens", self.service_tokens, methods=["GET"]),
            Route("/auth/services/{name}/tokens", self.create_service_token, methods=["POST"]),
            Route(
                "/auth/services/{name}/tokens/{id}", self.revoke_service_token, methods=["DELETE"]
            ),
        ]

    # --- a person's own: managing tokens takes a session, never a token -------------

    async def list_tokens(self, request: Request) -> Response:
        account = await self._caller(request, Use.ACCOUNT)
        return await self._listed(request, account)

    async def create_token(self, request: Request) -> Response:
        account = await self._caller(request, Use.ACCOUNT)
        return await self._create(request, account, None)

    async def revoke_token(self, request: Request) -> Response:
        account = await self._caller(request, Use.ACCOUNT)
        token_id = request.path_params["id"]
        await self._services.tokens.revoke(account, token_id, client_of(request))
        return empty_response()

    # --- service accounts: superusers only ------------------------------------------

    async def list_services(self, request: Request) -> Response:
        """The service accounts, a page at a time, by id."""
        caller = await self._caller(request, Use.ACT)
        limit, cursor = page_asked(request)
        accounts = await self._services.service_accounts.list(limit, cursor, actor=caller)
        return page_response(request, accounts, service_view)

    async def add_service(self, request: Request) -> Response:
        caller = await self._caller(request, Use.ACT)
        body = parse_model(NewServiceBody, await read_fields(request, allow_form=False))
        account = await self._services.service_accounts.add(
            body.name, body.tags, actor=caller, client=client_of(request)
        )
        return json_response(service_view(account), 201, headers=NO_STORE)

    async def service_tokens(self, request: Request) -> Response:
        _, service = await self._service(request)
        return await self._listed(request, service)

    async def create_service_token(self, request: Request) -> Response:
        caller, service = await self._service(request)
        return await self._create(request, service, caller)

    async def revoke_service_token(self, request: Request) -> Response:
        caller, service = await self._service(request)
        await self._services.tokens.revoke(
            service, request.path_params["id"], client_of(request), actor=caller
        )
        return empty_response()

    async def _service(self, request: Request) -> tuple[Account, Account]:
        """The superuser calling, and the service account the path names."""
        caller = await self._caller(request, Use.ACT)
        name = request.path_params["name"]
        return caller, await self._services.service_accounts.find(name, caller)

    async def _create(self, request: Request, owner: Account, actor: Account | None) -> Response:
        body = parse_model(NewTokenBody, await read_fields(request, allow_form=True))
        issued = await self._services.tokens.create(
            owner,
            body.name,
            body.scope,
            lifetime_of(body.expires_in_days),
            client_of(request),
            actor=actor,
        )
        return json_response(issued_view(issued), 201, headers=NO_STORE)

    async def _listed(self, request: Request, owner: Account) -> Response:
        """The owner's tokens, a page at a time, newest first."""
        limit, cursor = page_asked(request)
        tokens = await self._services.tokens.page(owner.id, limit, cursor)
        return page_response(request, tokens, token_view)
