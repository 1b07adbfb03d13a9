"""BioStudies' Python client (``biostudies-client`` on PyPI), unchanged, against us."""

from __future__ import annotations

import pytest
from biostudiesclient.auth import Auth
from biostudiesclient.exceptions import RestErrorException

from tests.support import PASSWORD, RunningServer, add_account


def test_logs_in_and_reads_its_session_id(server: RunningServer) -> None:
    add_account(server.settings, "python@example.org", username="python")
    auth = Auth(base_url=server.url)
    answer = auth.login("python", PASSWORD)
    assert answer.status.value == 200
    assert answer.session_id and auth.session_id == answer.session_id
    with server.client() as client:
        profile = client.get("/auth/profile", headers={"X-Session-Token": answer.session_id})
    assert profile.json()["email"] == "python@example.org"


def test_a_wrong_password_is_the_clients_error_with_our_message(server: RunningServer) -> None:
    add_account(server.settings, "python@example.org")
    with pytest.raises(RestErrorException) as raised:
        Auth(base_url=server.url).login("python@example.org", "not the password")
    assert raised.value.status_code == 401
    assert raised.value.message == "Invalid email address or password."
