"""The README's Quick start, run as a newcomer runs it: on a fresh clone, its own commands,
word for word but for the password a person would type."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.processes import run_in_terminal
from tests.support import PASSWORD, free_port

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def quick_start_blocks() -> list[list[str]]:
    """The shell blocks of the Quick start section, each as its command lines."""
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    return [
        [line.split("  #")[0].strip() for line in b.splitlines() if line.strip()] for b in blocks
    ]


def test_the_quick_start_names_two_commands_and_the_first_steps() -> None:
    install, first_steps = quick_start_blocks()
    assert install == ["scripts/serve", "scripts/test"]
    assert first_steps[0].startswith(".venv/bin/portcullis user add ")
    assert first_steps[1].startswith("curl ")


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A fresh clone of this checkout's committed state, as a newcomer gets it."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing to clone")
    target = tmp_path / "portcullis"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True, timeout=120)
    return target


def test_serve_then_the_first_account_and_its_login(clone: Path) -> None:
    _, first_steps = quick_start_blocks()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTCULLIS_")}
    # The README's own command; only the port differs, so that tests may run side by side.
    with (clone / "serve.log").open("w") as log:
        server = subprocess.Popen(
            ["scripts/serve", "--port", str(port)],
            cwd=clone,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 300  # the first run installs into .venv
        while time.monotonic() < deadline:
            assert server.poll() is None, (clone / "serve.log").read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        else:
            raise AssertionError("scripts/serve did not come up")
        add = shlex.split(first_steps[0])
        code, shown = run_in_terminal(
            env, *add[1:], typed=[PASSWORD, PASSWORD], program=str(clone / add[0]), cwd=clone
        )
        assert code == 0, shown
        login = shlex.split(first_steps[1].replace("<the password>", PASSWORD))
        login = [part.replace("http://127.0.0.1:8000", base) for part in login]
        answer = subprocess.run(login, capture_output=True, text=True, timeout=30, check=True)
        profile = json.loads(answer.stdout)
        assert profile["email"] == "admin@example.org"
        assert profile["superuser"] is True
        assert (
            httpx.get(
                f"{base}/auth/profile", headers={"X-Session-Token": profile["sessid"]}
            ).json()["fullname"]
            == "Admin User"
        )
        # The data went where the README says: ./var of the clone.
        assert (clone / "var" / "portcullis.db").exists()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
