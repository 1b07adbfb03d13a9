"""A server whose public URL is its own loopback address, so mailed links open its pages."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import MakeServer, SettingsFactory
from tests.support import RunningServer, free_socket

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')

SiteFactory = Callable[..., RunningServer]


@pytest.fixture
def make_site(settings_for: SettingsFactory, make_server: MakeServer) -> SiteFactory:
    def make(**overrides: Any) -> RunningServer:
        sock = free_socket()
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        overrides = {"public_url": url, "cookie_secure": False, **overrides}
        return make_server(settings_for(**overrides), sock)

    return make


@pytest.fixture
def site(make_site: SiteFactory) -> RunningServer:
    return make_site()


def csrf_of(page: httpx.Response) -> str:
    found = CSRF_FIELD.search(page.text)
    assert found, page.text
    return found.group(1)


def submit(
    client: httpx.Client, page: str, action: str | None = None, **fields: str
) -> httpx.Response:
    """Open ``page`` and send its form (to ``action``, else to the page) with ``fields``."""
    token = csrf_of(client.get(page))
    return client.post(action or page, data={"csrf_token": token, **fields})


def sign_in(client: httpx.Client, login: str, password: str) -> httpx.Response:
    answer = submit(client, "/account/signin", login=login, password=password)
    assert answer.status_code == 303, answer.text
    return answer


# The links an account at ada@example.org is mailed, asked for as a person would.
def mailed_reset_link(site: RunningServer) -> str:
    with site.client() as client:
        assert (
            submit(client, "/account/password/forgot", email="ada@example.org").status_code == 303
        )
    return site.wait_for_mail("ada@example.org", "Reset").link


def mailed_setup_link(site: RunningServer) -> str:
    with site.client() as client:
        asked = client.post(
            "/auth/activate",
            json={"email": "ada@example.org", "instanceKey": "default", "path": "password/reset"},
        )
        assert asked.status_code == 200, asked.text
    return site.wait_for_mail("ada@example.org", "Setup").link
