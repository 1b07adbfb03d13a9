"""The superusers' part of the BioStudies dialect: any account's sessions and
permissions, the user list and the audit trail, under /auth/admin."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictStr, StringConstraints
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from portcullis.core.errors import InvalidInput
from portcullis.core.models import AccessType, Account
from portcullis.http.biostudies_views import audit_view, session_view, user_record
from portcullis.http.common import (
    client_of,
    empty_response,
    json_response,
    parse_model,
    read_fields,
)
from portcullis.http.paging import page_asked, page_response
from portcullis.services import Services


def parse_since(raw: str | None) -> datetime | None:
    """An ISO date or date-time (UTC unless it says otherwise). Raises InvalidInput."""
    if not raw:
        return None
    try:
        since = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(["since: not an ISO 8601 date or date-time"]) from None
    return since if since.tzinfo else since.replace(tzinfo=UTC)


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


AccessTypeName = Annotated[AccessType, BeforeValidator(_upper)]


class PermissionBody(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    access_tag: Annotated[StrictStr, StringConstraints(max_length=1024)] = Field(alias="accessTag")
    access_type: AccessTypeName = Field(default=AccessType.READ, alias="accessType")


class BioStudiesAdminApi:
    """Thin handlers; the core says who may (superusers only)."""

    def __init__(self, services: Services, caller: Callable[[Request], Awaitable[Account]]):
        self._services = services
        self._caller = caller

    def routes(self) -> list[BaseRoute]:
        user = "/auth/admin/users/{email}"
        return [
            Route(f"{user}/sessions", self.sessions, methods=["GET"]),
            Route(f"{user}/sessions/{{id}}", self.end_session, methods=["DELETE"]),
            Route(f"{user}/logout-all", self.logout_everywhere, methods=["POST"]),
            Route(f"{user}/permissions", self.grant, methods=["POST"]),
            Route(f"{user}/permissions/{{access}}/{{tag}}", self.revoke, methods=["DELETE"]),
            Route("/auth/admin/audit", self.audit, methods=["GET"]),
            Route("/auth/admin/users", self.users, methods=["GET"]),
        ]

    async def sessions(self, request: Request) -> Response:
        """The account's sessions, a page at a time, newest first."""
        caller = await self._caller(request)
        limit, cursor = page_asked(request)
        sessions = await self._services.admin.sessions_of(
            request.path_params["email"], limit, cursor, actor=caller
        )
        return page_response(request, sessions, lambda session: session_view(session, None))

    async def end_session(self, request: Request) -> Response:
        caller = await self._caller(request)
        await self._services.admin.end_session(
            request.path_params["email"], request.path_params["id"], caller, client_of(request)
        )
        return empty_response()

    async def logout_everywhere(self, request: Request) -> Response:
        caller = await self._caller(request)
        ended = await self._services.admin.logout_everywhere(
            request.path_params["email"], caller, client_of(request)
        )
        return json_response({"ended": ended})

    async def grant(self, request: Request) -> Response:
        """200 ``{"changed": false}`` when the account had the permission already."""
        caller = await self._caller(request)
        body = parse_model(PermissionBody, await read_fields(request, allow_form=True))
        changed = await self._services.admin.grant(
            request.path_params["email"], body.access_tag, body.access_type, actor=caller
        )
        return json_response({"changed": changed})

    async def revoke(self, request: Request) -> Response:
        caller = await self._caller(request)
        permission = parse_model(
            PermissionBody,
            {"accessType": request.path_params["access"], "accessTag": request.path_params["tag"]},
        )
        await self._services.admin.revoke(
            request.path_params["email"],
            permission.access_tag,
            permission.access_type,
            actor=caller,
        )
        return empty_response()

    async def audit(self, request: Request) -> Response:
        caller = await self._caller(request)
        query = request.query_params
        limit, cursor = page_asked(request)
        events = await self._services.audit.read(
            caller, query.get("user") or None, parse_since(query.get("since")), limit, cursor
        )
        return page_response(request, events, audit_view)

    async def users(self, request: Request) -> Response:
        """Every account, a page at a time, by id: the superuser's user list."""
        caller = await self._caller(request)
        limit, cursor = page_asked(request)
        accounts = await self._services.admin.list_users(limit, cursor, actor=caller)
        folders = self._services.folders
        return page_response(request, accounts, lambda account: user_record(account, folders))
