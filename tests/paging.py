"""Helpers for the paged-list tests: follow the Link headers, make many rows quickly."""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy import Table, update

from portcullis.config import Settings
from portcullis.services import Services
from tests.support import add_account
from tests.tokens import run_core

NEXT = re.compile(r'^<([^>]+)>; rel="next"$')
ROOT = "root@example.org"
ANN = "ann@example.org"


def with_root_and_ann(settings: Settings) -> Settings:
    """``settings``, its database holding a superuser (ROOT) and a user (ANN)."""
    add_account(settings, ROOT, superuser=True)
    add_account(settings, ANN)
    return settings


def as_session(token: str) -> dict[str, str]:
    return {"X-Session-Token": token}


def next_page(answer: httpx.Response) -> str | None:
    """The address the answer's ``Link: <...>; rel="next"`` names, if it has one."""
    link = answer.headers.get("link")
    if link is None:
        return None
    found = NEXT.fullmatch(link)
    assert found is not None, link
    return found.group(1)


def walk(client: httpx.Client, first: str, token: str) -> list[list[dict[str, Any]]]:
    """Every page from ``first`` on, following each answer's Link to the next."""
    pages = []
    address: str | None = first
    while address is not None:
        answer = client.get(address, headers=as_session(token))
        assert answer.status_code == 200, answer.text
        pages.append(answer.json())
        address = next_page(answer)
    return pages


def spread_in_time(settings: Settings, table: Table, ids: list[str], per_second: int) -> None:
    """Date the rows ``ids`` (made in a second or two) back in time, ``per_second`` of
    them in each second, the first newest: ties within a second, and many seconds."""

    async def run(services: Services) -> None:
        async with services.engine.begin() as connection:
            for n, row_id in enumerate(ids):
                moved = table.c.created_at - 10_000 - n // per_second
                await connection.execute(
                    update(table).where(table.c.id == row_id).values(created_at=moved)
                )

    run_core(settings, run)


def stored_times(settings: Settings, table: Table) -> dict[str, int]:
    """Each row's id and made-at time (seconds), as stored."""

    async def run(services: Services) -> dict[str, int]:
        async with services.engine.connect() as connection:
            rows = await connection.execute(table.select())
            return {row.id: row.created_at for row in rows}

    return run_core(settings, run)
