"""Running `portcullis import` as an operator does, against a test's Portcullis database."""

from __future__ import annotations

import subprocess

from portcullis.config import Settings
from tests.processes import portcullis_env, run_cli


def env_of(settings: Settings) -> dict[str, str]:
    return portcullis_env(settings.data_dir, database_url=settings.resolved_database_url)


def import_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(env_of(settings), "import", *args)
