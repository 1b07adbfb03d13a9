"""Whether an account's e-mail is verified, kept apart from whether it may sign in."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import MakeServer, SettingsFactory
from tests.support import PASSWORD, RunningServer

BIOSTUDIES_NEW = {"name": "Jo Smith", "email": "jo@example.org", "password": PASSWORD}


def thr_login(client: httpx.Client, who: str = "jo@example.org") -> httpx.Response:
    return client.post("/api/login", data={"username": who, "password": PASSWORD})


def activation_key(server: RunningServer) -> str:
    return server.wait_for_mail("jo@example.org", "Activation").key


class TestActivationRequired:
    def test_a_pending_account_is_refused_until_verified(self, server: RunningServer) -> None:
        with server.client() as client:
            new = {**BIOSTUDIES_NEW, "instanceKey": "default", "path": "activate"}
            assert client.post("/auth/register", json=new).status_code == 201
            assert thr_login(client).status_code == 401
            assert client.post(f"/auth/activate/{activation_key(server)}").status_code == 200
            answer = thr_login(client)
        assert answer.status_code == 200
        assert answer.json()["is_account_activated"] is True


class TestActivationNotRequired:
    def _server(self, settings_for: SettingsFactory, make_server: MakeServer) -> RunningServer:
        return make_server(settings_for(require_activation=False))

    def test_a_new_account_signs_in_unverified(
        self, settings_for: SettingsFactory, make_server: MakeServer
    ) -> None:
        server = self._server(settings_for, make_server)
        with server.client() as client:
            assert client.post("/auth/register", json=BIOSTUDIES_NEW).status_code == 201
            answer = thr_login(client)
        assert answer.status_code == 200
        body: dict[str, Any] = answer.json()
        assert body["is_account_activated"] is False
        # BioStudies mails nothing when activation is not required, as the real service.
        assert server.mails() == []
