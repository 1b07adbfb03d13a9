"""Racing requests: one account per e-mail or username, one use per key, never a 500."""

from __future__ import annotations

import asyncio

import httpx

from portcullis.core.errors import InvalidInput
from portcullis.services import build_services
from tests.conftest import MakeServer, SettingsFactory
from tests.support import PASSWORD

BODY = {
    "name": "Racer",
    "email": "same@example.org",
    "password": PASSWORD,
    "instanceKey": "default",
    "path": "activate",
}


async def _register_at_once(url: str, count: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        return list(
            await asyncio.gather(*[client.post("/auth/register", json=BODY) for _ in range(count)])
        )


def _accounts(settings: object) -> list[str]:
    async def run() -> list[str]:
        services = build_services(settings)  # type: ignore[arg-type]
        try:
            return [a.email for a in (await services.admin.list_users()).items]
        finally:
            await services.close()

    return asyncio.run(run())


def test_racing_registrations_of_one_email_make_one_account(
    settings_for: SettingsFactory, make_server: MakeServer
) -> None:
    server = make_server(settings_for(rate_limit_register="100/minute"))
    answers = asyncio.run(_register_at_once(server.url, 8))
    assert [a.status_code for a in answers] == [201] * 8
    assert _accounts(server.settings) == ["same@example.org"]


def test_racing_registrations_when_existing_accounts_are_revealed(
    settings_for: SettingsFactory, make_server: MakeServer
) -> None:
    server = make_server(
        settings_for(rate_limit_register="100/minute", reveal_existing_registration=True)
    )
    answers = asyncio.run(_register_at_once(server.url, 8))
    assert sorted(a.status_code for a in answers) == [201] + [400] * 7
    assert _accounts(server.settings) == ["same@example.org"]


def test_racing_usernames_make_one_account(settings_for: SettingsFactory) -> None:
    settings = settings_for()

    async def run() -> list[object]:
        services = build_services(settings)
        try:
            return await asyncio.gather(
                *[
                    services.admin.add_user(f"user{n}@example.org", PASSWORD, username="taken")
                    for n in range(6)
                ],
                return_exceptions=True,
            )
        finally:
            await services.close()

    results = asyncio.run(run())
    assert sum(1 for r in results if not isinstance(r, BaseException)) == 1
    assert all(isinstance(r, InvalidInput) for r in results if isinstance(r, BaseException))
    assert len(_accounts(settings)) == 1
