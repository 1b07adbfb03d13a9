"""Register and reset need a captcha answer when a secret is configured."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs

import pytest

from tests.conftest import SettingsFactory
from tests.support import PASSWORD, RunningServer, add_account, fail_body

CAPTCHA_FAIL = fail_body("The Provided catch key is empty or incorrect.")
REGISTER = {
    "name": "Cap Tcha",
    "email": "captcha@example.org",
    "password": PASSWORD,
    "instanceKey": "default",
    "path": "activate",
}


class Verifier(BaseHTTPRequestHandler):
    """A siteverify endpoint: says yes to the response "human", no to anything else."""

    seen: ClassVar[list[dict[str, str]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        Verifier.seen.append(form)
        ok = form.get("secret") == "s3cret" and form.get("response") == "human"
        body = json.dumps({"success": ok}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def verifier() -> Iterator[str]:
    Verifier.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Verifier)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/siteverify"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def captcha_server(settings_for: SettingsFactory, make_server: Any, verifier: str) -> RunningServer:
    return make_server(settings_for(captcha_secret="s3cret", captcha_verify_url=verifier))  # type: ignore[no-any-return]


@pytest.mark.parametrize("answer", [None, "", "robot"])
def test_register_without_a_good_answer_is_400(
    captcha_server: RunningServer, answer: str | None
) -> None:
    body = dict(REGISTER)
    if answer is not None:
        body["recaptcha2-response"] = answer
    with captcha_server.client() as client:
        refused = client.post("/auth/register", json=body)
    assert refused.status_code == 400
    assert refused.json() == CAPTCHA_FAIL
    assert captcha_server.mails() == []


def test_register_with_a_good_answer(captcha_server: RunningServer) -> None:
    with captcha_server.client() as client:
        answer = client.post("/auth/register", json={**REGISTER, "recaptcha2-response": "human"})
    assert answer.status_code == 201
    assert Verifier.seen[-1]["secret"] == "s3cret"
    assert Verifier.seen[-1]["response"] == "human"
    assert Verifier.seen[-1]["remoteip"] == "127.0.0.1"


def test_reset_needs_it_too(captcha_server: RunningServer) -> None:
    add_account(captcha_server.settings, "captcha@example.org")
    body = {"email": "captcha@example.org", "instanceKey": "default", "path": "reset"}
    with captcha_server.client() as client:
        refused = client.post("/auth/password/reset", json=body)
        accepted = client.post(
            "/auth/password/reset", json={**body, "recaptcha2-response": "human"}
        )
    assert refused.json() == CAPTCHA_FAIL
    assert accepted.status_code == 200
    captcha_server.wait_for_mail("captcha@example.org", "Reset")


def test_an_unreachable_verifier_refuses(settings_for: SettingsFactory, make_server: Any) -> None:
    server = make_server(
        settings_for(captcha_secret="s3cret", captcha_verify_url="http://127.0.0.1:9/siteverify")
    )
    with server.client() as client:
        answer = client.post("/auth/register", json={**REGISTER, "recaptcha2-response": "human"})
    assert answer.json() == CAPTCHA_FAIL
