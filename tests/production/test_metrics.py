"""GET /metrics of a real `portcullis serve --workers 2`: every series moves as it should."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.processes import ServeProcess, portcullis_env, run_cli
from tests.support import PASSWORD, free_port

TOKEN = "metrics bearer for the tests"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(base: str) -> Samples:
    answer = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def add_user(env: dict[str, str], email: str, *extra: str) -> None:
    made = run_cli(env, "user", "add", email, *extra, "--password-stdin", stdin=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return portcullis_env(
        tmp_path / "data",
        metrics_token=TOKEN,
        login_lockout_threshold="2",
        rate_limit_key="1/hour",
        mail_url=f"file://{tmp_path / 'outbox'}",
    )


@pytest.fixture
def two_workers(env: dict[str, str]) -> Iterator[str]:
    add_user(env, "ok@example.org", "--username", "okay")
    add_user(env, "asleep@example.org", "--inactive")
    server = ServeProcess(env, "--workers", "2")
    try:
        yield server.url
    finally:
        server.stop()


def traffic(base: str) -> None:
    """One of each thing the metrics count, spread over both workers by new connections."""

    def login(who: str, password: str = PASSWORD) -> httpx.Response:
        return httpx.post(f"{base}/auth/login", json={"login": who, "password": password})

    token = login("ok@example.org").json()["sessid"]
    for given in (token, "no such token", None):
        headers = {"X-Session-Token": given} if given else {}
        httpx.get(f"{base}/auth/profile", headers=headers)
    assert login("ok@example.org", "not the password").status_code == 401
    assert login("nobody@example.org").status_code == 401
    assert login("asleep@example.org").status_code == 401
    # The threshold is two: the second failure starts a hold, the third is held back.
    for _ in range(2):
        login("okay", "wrong again")
    assert login("okay").status_code == 429
    trackhub = httpx.get(f"{base}/api/login", auth=("asleep@example.org", PASSWORD))
    assert trackhub.status_code == 401
    # One activation key an hour per address in each worker: three tries, two workers.
    for _ in range(3):
        httpx.post(f"{base}/auth/activate/not-a-key")
    registered = {"name": "N", "email": "new@example.org", "password": PASSWORD}
    answer = httpx.post(
        f"{base}/auth/register", json={**registered, "instanceKey": "default", "path": "activate"}
    )
    assert answer.status_code == 201, answer.text


def test_every_series_moves_as_the_traffic_should(two_workers: str) -> None:
    before = scrape(two_workers)
    traffic(two_workers)
    deadline = time.monotonic() + 10  # the activation mail leaves within a poll or two
    while time.monotonic() < deadline:
        after = scrape(two_workers)
        if value(after, "portcullis_mail_deliveries_total", outcome="sent") >= 1:
            break
        time.sleep(0.2)
    # Each worker writes its request counts twice a second; the one not scraped has had
    # no chance yet if it answered last.
    time.sleep(1)
    after = scrape(two_workers)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    for outcome in ("ok", "bad_password", "unknown", "inactive", "held_back"):
        assert moved("portcullis_sign_ins_total", outcome=outcome, dialect="biostudies") >= 1
    assert moved("portcullis_sign_ins_total", outcome="inactive", dialect="trackhub") == 1
    assert moved("portcullis_lockouts_started_total") >= 1
    assert moved("portcullis_token_checks_total", outcome="ok") == 1
    assert moved("portcullis_token_checks_total", outcome="unknown") == 1
    assert moved("portcullis_token_checks_total", outcome="missing") == 1
    assert moved("portcullis_rate_limit_refusals_total", limit="key") >= 1
    assert moved("portcullis_mail_deliveries_total", outcome="sent") == 1
    # A hash for each password checked, in serve's own process (it hashes for both).
    assert moved("portcullis_password_hash_seconds_count") >= 8
    assert moved("portcullis_password_hash_queue_wait_seconds_count") >= 8
    assert value(after, "portcullis_mail_outbox_depth") == 0
    assert value(after, "portcullis_mail_outbox_oldest_due_seconds") == 0

    requests = "portcullis_http_requests_total"
    login = {"route": "/auth/login", "method": "POST", "dialect": "biostudies"}
    assert moved(requests, **login, status="200") == 1
    assert moved(requests, **login, status="401") >= 3
    assert moved(requests, **login, status="429") >= 1
    # The route's template, never the key the path carried.
    activate = {"route": "/auth/activate/{key}", "method": "POST", "dialect": "biostudies"}
    assert moved(requests, **activate, status="429") >= 1
    assert not any("not-a-key" in str(labels) for _, labels in after)
    latency = "portcullis_http_request_duration_seconds_count"
    assert moved(latency, route="/auth/profile", method="GET", dialect="biostudies") == 3


def test_a_scrape_needs_the_token(two_workers: str) -> None:
    assert httpx.get(f"{two_workers}/metrics").status_code == 401
    wrong = httpx.get(f"{two_workers}/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"].startswith("Bearer")


def test_off_unless_configured(tmp_path: Path) -> None:
    server = ServeProcess(portcullis_env(tmp_path / "data"))
    try:
        assert httpx.get(f"{server.url}/metrics").status_code == 404
    finally:
        server.stop()


def test_an_allowed_address_needs_no_token(tmp_path: Path) -> None:
    server = ServeProcess(portcullis_env(tmp_path / "data", metrics_allow="127.0.0.0/8"))
    try:
        answer = httpx.get(f"{server.url}/metrics")
        assert answer.status_code == 200
        assert "portcullis_sign_ins_total" in answer.text
    finally:
        server.stop()


def test_redis_errors_are_counted_and_warned_of_at_start(tmp_path: Path) -> None:
    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    env = portcullis_env(tmp_path / "data", metrics_token=TOKEN, redis_url=unreachable)
    server = ServeProcess(env)
    try:
        refused = httpx.post(f"{server.url}/auth/login", json={"login": "a@b.c", "password": "x"})
        assert refused.status_code == 503
        assert value(scrape(server.url), "portcullis_backing_errors_total", service="redis") >= 1
    finally:
        server.stop()
    assert "Redis cannot be reached now" in server.log.read_text()
