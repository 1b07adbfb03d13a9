"""create_app(settings): the ASGI application, the adapters wired around the core."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from dataclasses import asdict, astuple

from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Scope

from portcullis.config import Settings
from portcullis.core.errors import PortcullisError, Unavailable
from portcullis.http import biostudies, trackhub
from portcullis.http.biostudies import BioStudiesApi
from portcullis.http.common import BodyTooLarge, json_response
from portcullis.http.contract.served import ApiDocs
from portcullis.http.edges import DialectCors, relative_slash_redirects
from portcullis.http.gateway import INTROSPECT_PATH, VERIFY_METHODS, VERIFY_PATH, ForwardAuth
from portcullis.http.guards import (
    AddressLimits,
    BodyLimit,
    CatchAll,
    ClientAddress,
    ReadableUrls,
    SafeHeaders,
    parse_networks,
)
from portcullis.http.token_check import TokenCheckFirst, TokenChecksInside
from portcullis.http.trackhub import TrackHubApi
from portcullis.http.trackhub_account import TrackHubAccountApi
from portcullis.observability.access_lines import LOGGER as ACCESS_LOGGER
from portcullis.observability.access_lines import AccessLines
from portcullis.observability.endpoint import MetricsEndpoint
from portcullis.observability.logs import resolved_format
from portcullis.observability.meters import fields
from portcullis.observability.requests import Observed, RouteTemplates
from portcullis.services import Services, build_services
from portcullis.storage.redaction import redact_database_errors
from portcullis.web.pages import AccountPages
from portcullis.web.render import error_page, is_page, problem_page

log = logging.getLogger("portcullis")
# Every logger of the service; a logger's filters see only the records it makes itself.
redact_database_errors(
    "portcullis", "portcullis.captcha", "portcullis.mail", "portcullis.throttling"
)

METERS_FLUSH_SECONDS = 0.5  # how late a sibling worker's counts may reach a scrape
# A refused or dropped connection to a backing service: 503, and the service heals.
BACKING_SERVICE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError, OSError)


def _is_trackhub(scope: Scope) -> bool:
    return str(scope.get("path", "")).startswith("/api/")


def error_for(scope: Scope, problem: PortcullisError) -> Response:
    """One place that picks the dialect an error is told in."""
    if is_page(scope):
        return problem_page(scope, problem)
    if _is_trackhub(scope):
        return trackhub.error_response(problem)
    return biostudies.error_response(problem)


def plain_error_for(scope: Scope, message: str, status_code: int) -> Response:
    if is_page(scope):
        return error_page(scope, message, status_code)
    if _is_trackhub(scope):
        return trackhub.error(message, status_code)
    return biostudies.fail(message, status_code)


def too_large(scope: Scope) -> Response:
    return plain_error_for(scope, "The request body is too large.", 413)


async def on_core_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PortcullisError)
    return error_for(request.scope, exc)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    response = plain_error_for(request.scope, exc.detail, exc.status_code)
    response.headers.update(exc.headers or {})  # a 405's Allow
    return response


async def on_body_too_large(request: Request, exc: Exception) -> Response:
    return too_large(request.scope)


async def on_database_error(request: Request, exc: Exception) -> Response:
    log.warning("database unavailable: %s", exc)
    request.app.state.services.meters.backing_error("database")
    return error_for(request.scope, Unavailable())


def internal_error(scope: Scope) -> Response:
    return plain_error_for(scope, "Internal error.", 500)


async def healthz(request: Request) -> Response:
    """Alive: the process answers. Load balancers restart what fails this."""
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready: the backing services answer. Load balancers route only to what passes this."""
    services: Services = request.app.state.services
    checks = await services.readiness()
    ready = all(state in ("ok", "not configured") for state in checks.values())
    return json_response(
        {"status": "ok" if ready else "unavailable", **checks}, 200 if ready else 503
    )


def create_app(settings: Settings | None = None, services: Services | None = None) -> Starlette:
    settings = settings or Settings()
    services = services or build_services(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(services.mail_sender.run(), name="mail-sender")]
        if settings.purge_interval_seconds:
            purging = _purge_forever(services, settings.purge_interval_seconds)
            tasks.append(asyncio.create_task(purging, name="purge"))
        if services.meters.enabled:
            tasks.append(asyncio.create_task(_flush_meters_forever(services), name="meters"))
        # What start-up made lives as long as the worker: keep it out of every garbage
        # collection. Token checks on PostgreSQL, alternating runs a minute apart:
        # 8,487/7,603/7,279 req/s without, 9,596/10,326/8,928 with.
        gc.freeze()
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await services.close()
            gc.unfreeze()  # where apps come and go in one process (the tests), let go

    pages = AccountPages(services)
    biostudies_api = BioStudiesApi(services)
    forward_auth = ForwardAuth(services)
    routes = [
        *biostudies_api.routes(),
        *TrackHubApi(services).routes(),
        *TrackHubAccountApi(services).routes(),
        Route(VERIFY_PATH, forward_auth.verify, methods=VERIFY_METHODS),
        Route(INTROSPECT_PATH, forward_auth.introspect, methods=["POST"]),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        *metrics_routes(settings, services),
        *pages.routes(),
    ]
    if settings.api_docs:
        routes += ApiDocs(settings, routes).routes()
    app = TokenChecksInside(
        token_check_paths=frozenset({"/auth/profile", VERIFY_PATH}),
        routes=routes,
        # Outermost first. Observed sees every request, to give it an id and count it.
        # The token check skips the rest (it needs none of it; measured in its commit).
        # SafeHeaders sees every other answer, CORS preflights and errors.
        middleware=[
            Middleware(
                Observed,
                routes=RouteTemplates(routes),
                meters=services.meters,
                access_lines=access_lines_of(settings),
            ),
            Middleware(
                TokenCheckFirst,
                endpoints={
                    "/auth/profile": (frozenset({"GET"}), biostudies_api.profile),
                    VERIFY_PATH: (None, forward_auth.verify),
                },
                error_for=error_for,
                internal_error=internal_error,
                unavailable=BACKING_SERVICE_ERRORS,
                cors_paths=frozenset({"/auth/profile"} if settings.cors_origins else ()),
                meters=services.meters,
            ),
            Middleware(SafeHeaders),
            Middleware(CatchAll, internal_error=internal_error),
            *cors(settings),
            Middleware(ClientAddress, trusted=parse_networks(settings.trusted_proxies)),
            Middleware(ReadableUrls, error_for=error_for),
            Middleware(AddressLimits, limiter=services.limiter, error_for=error_for),
            Middleware(BodyLimit, limit=settings.max_body_bytes, too_large=too_large),
        ],
        exception_handlers={
            PortcullisError: on_core_error,
            HTTPException: on_http_error,
            BodyTooLarge: on_body_too_large,
            **dict.fromkeys(BACKING_SERVICE_ERRORS, on_database_error),
        },
        lifespan=lifespan,
    )
    relative_slash_redirects(app.router)
    app.state.services = services
    app.state.account_pages = pages.renderer
    return app


def access_lines_of(settings: Settings) -> AccessLines | None:
    """The access lines, when asked for and the access logger would write them: its
    level (``logging`` configuration, as serve's) still decides, as for every other line."""
    if not settings.access_log or not logging.getLogger(ACCESS_LOGGER).isEnabledFor(logging.INFO):
        return None
    return AccessLines(resolved_format(settings.log_format))


def metrics_routes(settings: Settings, services: Services) -> list[Route]:
    """GET /metrics when metrics are on (a token or allowed addresses); else none: a 404."""
    if not settings.metrics_enabled:
        return []
    endpoint = MetricsEndpoint(
        services.meters,
        services.mail_sender.backlog,
        settings.metrics_token,
        parse_networks(settings.metrics_allow),
    )
    return [Route("/metrics", endpoint.scrape, methods=["GET"])]


def cors(settings: Settings) -> list[Middleware]:
    """Off unless origins are listed; then those origins only, with credentials."""
    if not settings.cors_origins:
        return []
    return [
        Middleware(
            DialectCors,
            refused=plain_error_for,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Content-Type",
                "X-Session-Token",
                "Authorization",
                "Auth-Token",
                "User",
            ],
            expose_headers=["Retry-After"],
            max_age=600,
        )
    ]


async def _flush_meters_forever(services: Services) -> None:
    try:
        while True:
            await asyncio.sleep(METERS_FLUSH_SECONDS)
            services.meters.flush()
    finally:  # the worker is stopping: what it counted last is written too
        services.meters.flush()


async def _purge_forever(services: Services, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            purged = await services.housekeeping.purge()
        except Exception:
            log.exception(
                "purging lapsed sessions, keys, tokens and audit events failed; will retry"
            )
            continue
        if any(astuple(purged)):
            log.info(purged.summary(), extra=fields(event="purged", **asdict(purged)))
