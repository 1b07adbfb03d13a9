"""Running the real ``portcullis`` command as a separate process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from tests.support import free_port

PORTCULLIS = str(Path(sys.executable).with_name("portcullis"))


def portcullis_env(data_dir: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTCULLIS_")}
    env.update(
        PORTCULLIS_DATA_DIR=str(data_dir),
        PORTCULLIS_ARGON2_MEMORY_KIB="1024",
        PORTCULLIS_ARGON2_TIME_COST="1",
        PORTCULLIS_MAIL_POLL_SECONDS="0.1",
    )
    env.update({f"PORTCULLIS_{k.upper()}": v for k, v in settings.items()})
    return env


def run_cli(
    env: Mapping[str, str], *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PORTCULLIS, *args],
        input=stdin,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class ServeProcess:
    """``portcullis serve`` in its own process, stopped with SIGTERM like a real deployment."""

    def __init__(self, env: Mapping[str, str], *extra: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = Path(env["PORTCULLIS_DATA_DIR"]) / f"serve-{self.port}.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = self.log.open("wb")
        self.process = subprocess.Popen(
            [PORTCULLIS, "serve", "--port", str(self.port), *extra],
            env=dict(env),
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        self._wait_until_up()

    def _wait_until_up(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"serve did not come up: {self.log.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()
