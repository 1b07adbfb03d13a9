"""Running the real ``portcullis`` command as a separate process."""

from __future__ import annotations

import fcntl
import os
import select
import subprocess
import sys
import termios
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from bench.service import children_of
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


def run_in_terminal(
    env: Mapping[str, str],
    *args: str,
    typed: Sequence[str],
    timeout: float = 60,
    program: str = PORTCULLIS,
    cwd: Path | None = None,
) -> tuple[int, str]:
    """Run the command on a terminal of its own (a pty it controls, as a person's shell
    gives it), typing each of ``typed`` after the next prompt; its exit code and all it
    showed on the terminal."""
    master, slave = os.openpty()

    def own_the_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        [program, *args],
        cwd=cwd,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=dict(env),
        preexec_fn=own_the_terminal,
    )
    os.close(slave)
    shown = b""
    answered = 0  # how much of ``shown`` came before the last answer
    answers = list(typed)
    deadline = time.monotonic() + timeout
    # poll, not select: late in a long run the pty's number can pass select's 1024.
    watch = select.poll()
    watch.register(master, select.POLLIN)
    while time.monotonic() < deadline:
        if watch.poll(100):
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the command ended and closed the terminal
                break
            if not chunk:
                break
            shown += chunk
            # A new prompt since the last answer: typed sooner, the line could be taken
            # while echo is back on, then flushed away by the next prompt.
            if answers and shown[answered:].rstrip().endswith(b":"):
                os.write(master, answers.pop(0).encode() + b"\n")
                answered = len(shown)
    os.close(master)
    return process.wait(timeout=timeout), shown.decode(errors="replace")


def workers_of(server: ServeProcess, count: int) -> list[int]:
    """uvicorn's worker processes (its spawned children), once all ``count`` have started."""
    deadline = time.monotonic() + 30
    while True:
        workers = [
            pid
            for pid in children_of(server.process.pid)
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        if len(workers) >= count or time.monotonic() > deadline:
            return workers
        time.sleep(0.1)
