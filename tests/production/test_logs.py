"""The log lines of a real `portcullis serve`: one access line a request, its id, no secret."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.processes import ServeProcess, portcullis_env, run_cli
from tests.raw_http import raw_request
from tests.support import PASSWORD

SECRET = "Zq7-hunter2-secret"  # what must never be written out


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServeProcess]:
    env = portcullis_env(tmp_path / "data", log_format="json", login_lockout_threshold="1")
    made = run_cli(env, "user", "add", "log@example.org", "--password-stdin", stdin=f"{PASSWORD}\n")
    assert made.returncode == 0, made.stderr
    running = ServeProcess(env)
    try:
        yield running
    finally:
        running.stop()


def lines(server: ServeProcess, request_id: str | None = None) -> list[dict[str, Any]]:
    """The JSON lines written so far (of one request, if given); uvicorn flushes each."""
    time.sleep(0.3)  # the access line follows the answer's last byte
    parsed = [json.loads(line) for line in server.log.read_text().splitlines() if line]
    return [line for line in parsed if request_id in (None, line.get("request_id"))]


def test_each_request_has_one_access_line_with_its_id(server: ServeProcess) -> None:
    answer = httpx.get(f"{server.url}/healthz", headers={"X-Request-ID": "probe-1.a:b"})
    assert answer.headers["x-request-id"] == "probe-1.a:b"
    (line,) = lines(server, "probe-1.a:b")
    assert line["logger"] == "portcullis.access"
    assert line["method"] == "GET"
    assert line["route"] == "/healthz"
    assert line["status"] == 200
    assert line["client"] == "127.0.0.1"
    assert line["duration_ms"] >= 0


def test_an_invalid_request_id_is_replaced_by_a_made_one(server: ServeProcess) -> None:
    answer = raw_request(server.url, "GET", "/healthz", {"X-Request-ID": 'bad id" injected'})
    made = answer.headers["x-request-id"]
    assert len(made) == 32 and made.isalnum()
    assert lines(server, made)[0]["status"] == 200


def test_every_line_about_a_request_carries_its_id(server: ServeProcess) -> None:
    # A held-back sign-in writes a lockout line before its access line.
    for _ in range(3):
        httpx.post(
            f"{server.url}/auth/login",
            json={"login": "log@example.org", "password": "wrong"},
            headers={"X-Request-ID": "held-back"},
        )
    about = lines(server, "held-back")
    assert {line["logger"] for line in about} == {"portcullis.access", "portcullis.events"}
    assert [line["event"] for line in about if line["logger"] == "portcullis.events"] == [
        "lockout_started"
    ]


def test_no_token_password_or_key_is_written(server: ServeProcess) -> None:
    basic = base64.b64encode(f"log@example.org:{SECRET}".encode()).decode()
    carriers = [
        ("GET", f"/auth/profile?token={SECRET}", {"X-Session-Token": SECRET}, b""),
        ("GET", "/api/login", {"Authorization": f"Basic {basic}"}, b""),
        ("GET", "/api/user", {"Authorization": f"Token {SECRET}", "Cookie": f"s={SECRET}"}, b""),
        ("POST", f"/auth/activate/{SECRET}", {}, b""),
        ("POST", f"/auth/password/change?key={SECRET}", {}, f'{{"key":"{SECRET}"}}'.encode()),
        (
            "POST",
            "/auth/login",
            {"Content-Type": "application/json"},
            json.dumps({"login": "log@example.org", "password": SECRET}).encode(),
        ),
        (
            "POST",
            "/account/signin",
            {"Content-Type": "application/x-www-form-urlencoded"},
            f"login=log%40example.org&password={SECRET}".encode(),
        ),
    ]
    for method, target, headers, body in carriers:
        raw_request(server.url, method, target, {**headers, "X-Request-ID": "secrets"}, body)
    written = lines(server, "secrets")
    assert len([line for line in written if line["logger"] == "portcullis.access"]) == 7
    assert SECRET not in server.log.read_text()
    assert base64.b64encode(SECRET.encode()).decode()[:12] not in server.log.read_text()


def test_serve_says_where_things_are(server: ServeProcess, tmp_path: Path) -> None:
    start = {line["message"] for line in lines(server) if line["logger"] == "portcullis.start"}
    assert f"data directory {(tmp_path / 'data').resolve()}" in start
    assert any(message.startswith("database sqlite:///") for message in start)
    assert "rate limits and lockout counts in in process memory" in start
    assert any(message.startswith("listening on 127.0.0.1:") for message in start)


def test_text_on_request_and_the_risks_warned_of(tmp_path: Path) -> None:
    env = portcullis_env(
        tmp_path / "data",
        log_format="text",
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        public_url="http://accounts.example.org",
    )
    server = ServeProcess(env, "--workers", "2")
    server.stop()
    text = server.log.read_text()
    assert "WARNING" in text and "2 workers without Redis" in text
    assert "cookies are Secure but http://accounts.example.org is plain HTTP" in text
    assert not text.lstrip().startswith("{")


def test_many_requests_at_once_in_two_workers_each_get_one_whole_line(tmp_path: Path) -> None:
    """A worker writes the lines of one turn of its loop together: none is lost, split or
    run into another worker's, up to the last ones before a SIGTERM."""
    server = ServeProcess(portcullis_env(tmp_path / "data", log_format="json"), "--workers", "2")
    sent = [f"burst-{n}" for n in range(600)]

    async def burst() -> list[int]:
        limits = httpx.Limits(max_connections=48)
        async with httpx.AsyncClient(base_url=server.url, limits=limits) as client:
            answers = await asyncio.gather(
                *(client.get("/auth/verify", headers={"X-Request-ID": id_}) for id_ in sent)
            )
        return [answer.status_code for answer in answers]

    try:
        assert set(asyncio.run(burst())) == {401}
    finally:
        server.stop()
    written = [json.loads(line) for line in server.log.read_text().splitlines() if line]
    access = [line for line in written if line["logger"] == "portcullis.access"]
    # The readiness checks before the burst have lines too, with ids of their own.
    assert sorted(line["request_id"] for line in access if line["route"] == "/auth/verify") == (
        sorted(sent)
    )
