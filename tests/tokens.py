"""Helpers for the access-token tests: make one over HTTP, age one in the database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
from sqlalchemy import update

from portcullis.config import Settings
from portcullis.services import Services, build_services
from portcullis.storage.tables import access_tokens

T = TypeVar("T")


def run_core(settings: Settings, action: Callable[[Services], Awaitable[T]]) -> T:
    """Run one core call against the test's database, as the CLI does."""

    async def run() -> T:
        services = build_services(settings)
        try:
            return await action(services)
        finally:
            await services.close()

    return asyncio.run(run())


def make_token(
    client: httpx.Client, session: str, scope: str = "read", **fields: Any
) -> dict[str, Any]:
    """A new personal token of the signed-in ``session``'s account, as POST answers it."""
    body = {"name": f"{scope} pipeline", "scope": scope, **fields}
    answer = client.post("/auth/tokens", json=body, headers={"X-Session-Token": session})
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


def expire_token(settings: Settings, token_id: str) -> None:
    """Move the token's expiry into the past, as time passing would."""

    async def run(services: Services) -> None:
        async with services.engine.begin() as connection:
            await connection.execute(
                update(access_tokens).where(access_tokens.c.id == token_id).values(expires_at=1)
            )

    run_core(settings, run)
