"""The risks serve warns of as it starts, one a configuration that has it."""

from __future__ import annotations

from pathlib import Path

from portcullis.config import Settings
from portcullis.observability.startup import Start, risks, without_password


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, **values)  # type: ignore[call-arg]


def start(workers: int = 1, redis_reachable: bool | None = None) -> Start:
    return Start("127.0.0.1", 8000, workers, redis_reachable)


def test_a_local_single_worker_on_sqlite_has_none(tmp_path: Path) -> None:
    assert risks(settings(tmp_path), start()) == []


def test_several_workers_without_redis(tmp_path: Path) -> None:
    (warning,) = risks(settings(tmp_path), start(workers=3))
    assert warning.startswith("3 workers without Redis")


def test_a_secret_from_a_file_beside_postgresql(tmp_path: Path) -> None:
    database = "postgresql://portcullis:pw@db.internal/portcullis"
    (warning,) = risks(settings(tmp_path, database_url=database), start())
    assert "PORTCULLIS_SECRET_KEY" in warning
    assert risks(settings(tmp_path, database_url=database, secret_key="set"), start()) == []


def test_secure_cookies_over_plain_http_to_another_host(tmp_path: Path) -> None:
    remote = settings(tmp_path, public_url="http://accounts.example.org")
    (warning,) = risks(remote, start())
    assert "plain HTTP" in warning
    assert risks(settings(tmp_path, public_url="http://localhost:8000"), start()) == []
    assert risks(settings(tmp_path, public_url="https://accounts.example.org"), start()) == []


def test_redis_unreachable_at_start(tmp_path: Path) -> None:
    redis = settings(tmp_path, redis_url="redis://127.0.0.1:1/0")
    (warning,) = risks(redis, start(redis_reachable=False))
    assert warning.startswith("Redis cannot be reached")


def test_passwords_are_starred_out() -> None:
    assert without_password("smtp://mailer:hunter2@mx:587") == "smtp://mailer:***@mx:587"
    assert without_password("redis://cache:6379/0") == "redis://cache:6379/0"
