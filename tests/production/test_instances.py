"""Several `portcullis serve` processes on one database and one Redis, as behind a balancer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.processes import ServeProcess, portcullis_env, run_cli
from tests.support import PASSWORD, read_eml


@pytest.fixture
def shared_env(tmp_path: Path, database_url: str, redis_settings: dict[str, str]) -> dict[str, str]:
    if not database_url.startswith("postgresql"):
        pytest.skip("several instances share a PostgreSQL database, not an SQLite file")
    # Each instance has its own data directory; they share what production shares:
    # the database, Redis, the server secret and (here) the mail outbox folder.
    return portcullis_env(
        tmp_path / "unused",
        database_url=database_url,
        redis_url=redis_settings["redis_url"],
        redis_key_prefix=redis_settings["redis_key_prefix"],
        secret_key="one secret for every instance of this deployment",
        mail_url=f"file://{tmp_path / 'outbox'}",
    )


@pytest.fixture
def two_instances(tmp_path: Path, shared_env: dict[str, str]) -> Iterator[tuple[str, str]]:
    made = run_cli(
        shared_env,
        "user",
        "add",
        "multi@example.org",
        "--username",
        "multi",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert made.returncode == 0, made.stderr
    instances = [
        ServeProcess({**shared_env, "PORTCULLIS_DATA_DIR": str(tmp_path / name)})
        for name in ("one", "two")
    ]
    try:
        yield instances[0].url, instances[1].url
    finally:
        for instance in instances:
            instance.stop()


def login(base: str) -> str:
    answer = httpx.post(f"{base}/auth/login", json={"login": "multi", "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["sessid"])


def test_a_session_made_on_one_works_on_the_other_and_logout_holds_at_once(
    two_instances: tuple[str, str],
) -> None:
    one, two = two_instances
    token = login(one)
    headers = {"X-Session-Token": token}
    assert httpx.get(f"{two}/auth/profile", headers=headers).status_code == 200
    assert (
        httpx.post(f"{two}/api/logout", headers={"Authorization": f"Token {token}"}).status_code
        == 200
    )
    assert httpx.get(f"{one}/auth/profile", headers=headers).status_code == 401


def test_lockout_counters_are_shared(two_instances: tuple[str, str]) -> None:
    one, two = two_instances
    wrong = {"login": "multi", "password": "not the password at all"}
    codes = [
        httpx.post(f"{base}/auth/login", json=wrong).status_code
        for base in (one, two, one, two, one)
    ]
    assert codes == [401] * 5
    right = {"login": "multi", "password": PASSWORD}
    held = httpx.post(f"{two}/auth/login", json=right)
    assert held.status_code == 429
    assert int(held.headers["retry-after"]) > 0
    assert httpx.post(f"{one}/auth/login", json=right).status_code == 429


def test_mail_is_sent_once(two_instances: tuple[str, str], tmp_path: Path) -> None:
    one, two = two_instances
    for base in (one, two):
        assert (
            httpx.post(
                f"{base}/auth/password/reset",
                json={"email": "multi@example.org", "instanceKey": "default", "path": "reset"},
            ).status_code
            == 200
        )
    outbox = tmp_path / "outbox"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(list(outbox.glob("*.eml"))) < 2:
        time.sleep(0.1)
    time.sleep(1.0)  # both senders have polled again since: nothing more may appear
    mails = [read_eml(path) for path in outbox.glob("*.eml")]
    assert len(mails) == 2
    assert all(mail.to == "multi@example.org" for mail in mails)
    # The second request voided the first key: only the newest mail's key works.
    keys = [mail.key for mail in mails]
    assert len(set(keys)) == 2


def test_workers_share_revocation(tmp_path: Path, database_url: str) -> None:
    env = portcullis_env(tmp_path / "data", database_url=database_url)
    run_cli(env, "user", "add", "workers@example.org", "--password-stdin", stdin=PASSWORD + "\n")
    server = ServeProcess(env, "--workers", "2")
    try:
        with httpx.Client(base_url=server.url) as client:
            for _ in range(5):
                token = client.post(
                    "/auth/login", json={"login": "workers@example.org", "password": PASSWORD}
                ).json()["sessid"]
                headers = {"X-Session-Token": token}
                assert client.get("/auth/profile", headers=headers).status_code == 200
                client.post("/auth/logout", headers=headers)
                # New connections land on either worker; none may still accept the token.
                for _ in range(10):
                    with httpx.Client(base_url=server.url) as fresh:
                        assert fresh.get("/auth/profile", headers=headers).status_code == 401
    finally:
        server.stop()
