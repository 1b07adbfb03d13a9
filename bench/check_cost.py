"""What one token check costs in this process: no sockets, no wrk, no second process.

    .venv/bin/python -m bench.check_cost [--database sqlite|postgresql] [--checks 20000]
        [--only ceiling,profile,verify-session,verify-token] [--asgi] [--profile [--top 25]]

Each check is one GET fed to uvicorn's own HTTP protocol (httptools, on uvloop, as
``portcullis serve`` runs it) through a transport that keeps what is written, so what is
counted is what a worker does for a request, less the socket calls. ``--asgi`` calls the
app directly instead, leaving uvicorn out. The ceiling (bench/ceiling.py) runs under the
same harness, so each check prints as a multiple of it.

CPU time is a rough guide on a shared machine; instruction counts repeat under load.
``--callgrind`` counts the checks alone (callgrind_control switches counting on and off
around them); a check's instructions are the total over ``--checks``:

    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/dev/null \\
        .venv/bin/python -m bench.check_cost --only profile --checks 1000 --callgrind

Callgrind counts no time in the kernel (the access line's write, SQLite's locks). On
PostgreSQL the checks here come one at a time, so none share a query as under load.
Metrics are off and access lines on, as in the benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import logging
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import uvicorn
import uvloop
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from bench import service
from portcullis.app import create_app
from portcullis.cli import server_options

App = Callable[[Any, Any, Any], Awaitable[None]]
POSTGRES_URL = os.environ.get(
    "PORTCULLIS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TARGETS = ("ceiling", "profile", "verify-session", "verify-token")


class Transport(asyncio.Transport):
    """Keeps what the protocol writes; says when a whole answer has been written."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.answered: asyncio.Event = asyncio.Event()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data
        self.answered.set()  # every answer here is written in one piece (no streaming)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def is_closing(self) -> bool:
        return False

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass


def raw_get(path: str, token: str | None) -> bytes:
    """The request wrk sends (bench/wrk/get.lua)."""
    token_header = f"X-Session-Token: {token}\r\n" if token else ""
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n{token_header}\r\n".encode()


async def through_uvicorn(app: App, requests: list[bytes], checks: int) -> bytes:
    """``checks`` requests on one kept-alive connection, one after another; the last answer."""
    config = uvicorn.Config(
        app, http="httptools", loop="uvloop", lifespan="off", **server_options()
    )
    config.load()
    protocol = HttpToolsProtocol(config, ServerState(), app_state={})
    transport = Transport()
    protocol.connection_made(transport)
    for n in range(checks):
        transport.written.clear()
        transport.answered.clear()
        protocol.data_received(requests[n % len(requests)])
        await transport.answered.wait()
        # The cycle's task finishes after the write: let it, as uvicorn's loop would.
        await asyncio.sleep(0)
    return bytes(transport.written)


async def direct(app: App, requests: list[bytes], checks: int) -> bytes:
    """The same requests as ASGI scopes, the app called directly."""
    scopes = [scope_of(raw) for raw in requests]
    answer: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            answer.append(message.get("body", b""))

    for n in range(checks):
        answer.clear()
        scope = dict(scopes[n % len(scopes)])
        scope["headers"] = list(scope["headers"])
        await app(scope, receive, send)
    return b"".join(answer)


def scope_of(raw: bytes) -> dict[str, Any]:
    head, *lines = raw.decode().strip().split("\r\n")
    method, path, _ = head.split(" ")
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": method,
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [
            (name.lower().encode(), value.encode())
            for name, value in (line.split(": ", 1) for line in lines)
        ],
        "state": {},
    }


@contextlib.asynccontextmanager
async def seeded_app(
    env: dict[str, str], logins: list[str]
) -> AsyncIterator[tuple[App, list[str], list[str]]]:
    """The service on a seeded database: its app, session tokens and personal tokens."""
    # Access lines are written when the access logger would write INFO, as under serve.
    logging.getLogger("portcullis.access").setLevel(logging.INFO)
    app = create_app(service.settings_from(env))
    async with app.router.lifespan_context(app):
        sessions = [await _login(app, login) for login in logins]
        tokens = [await _personal_token(app, session) for session in sessions]
        yield app, sessions, tokens


async def _call(app: App, method: str, path: str, body: dict[str, Any], token: str = "") -> Any:
    scope = scope_of(raw_get(path, token or None).replace(b"GET", method.encode(), 1))
    scope["headers"].append((b"content-type", b"application/json"))
    answer: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": orjson.dumps(body), "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            answer.append(message.get("body", b""))

    await app(scope, receive, send)
    return orjson.loads(b"".join(answer))


async def _login(app: App, login: str) -> str:
    answer = await _call(app, "POST", "/auth/login", {"login": login, "password": service.PASSWORD})
    return str(answer["sessid"])


async def _personal_token(app: App, session: str) -> str:
    answer = await _call(app, "POST", "/auth/tokens", {"name": "bench", "scope": "read"}, session)
    return str(answer["token"])


def requests_for(target: str, sessions: list[str], tokens: list[str]) -> list[bytes]:
    if target == "ceiling":
        return [raw_get("/auth/profile", None)]
    if target == "profile":
        return [raw_get("/auth/profile", token) for token in sessions]
    if target == "verify-session":
        return [raw_get("/auth/verify", token) for token in sessions]
    return [raw_get("/auth/verify", token) for token in tokens]


async def measure(args: argparse.Namespace, env: dict[str, str], logins: list[str]) -> None:
    from bench.ceiling import app as ceiling

    run = direct if args.asgi else through_uvicorn
    async with seeded_app(env, logins) as (app, sessions, tokens):
        costs: dict[str, float] = {}
        for target in args.only.split(","):
            requests = requests_for(target, sessions, tokens)
            target_app: App = ceiling if target == "ceiling" else app
            last = await run(target_app, requests, min(args.checks, 500))  # warm up
            assert b" 200 OK" in last or args.asgi, last
            profiler = cProfile.Profile() if args.profile else None
            if args.callgrind:
                callgrind("--instr=on")
            started = time.process_time()
            if profiler:
                profiler.enable()
            await run(target_app, requests, args.checks)
            if args.callgrind:
                callgrind("--instr=off")
            if profiler:
                profiler.disable()
            costs[target] = (time.process_time() - started) / args.checks * 1e6
            ratio = (
                f"  {costs[target] / costs['ceiling']:.2f}x the ceiling"
                if "ceiling" in costs
                else ""
            )
            print(f"{target:15} {costs[target]:7.1f} µs CPU a check{ratio}", file=sys.__stdout__)
            if profiler:
                if args.profile_out:
                    profiler.dump_stats(f"{args.profile_out}.{target}")
                stats = pstats.Stats(profiler, stream=sys.__stdout__)
                stats.sort_stats("tottime").print_stats(args.top)


def callgrind(*command: str) -> None:
    """Tells callgrind, which runs this process, to count or stop counting instructions."""
    subprocess.run(["callgrind_control", *command, str(os.getpid())], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.check_cost", description=__doc__)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--checks", type=int, default=20000)
    parser.add_argument("--only", default=",".join(TARGETS))
    parser.add_argument("--asgi", action="store_true", help="call the app, not uvicorn")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top lines")
    parser.add_argument(
        "--callgrind", action="store_true", help="count only the checks (--instr-atstart=no)"
    )
    parser.add_argument("--top", type=int, default=25, help="how many lines --profile prints")
    parser.add_argument("--profile-out", help="with --profile, also write the stats here")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="portcullis-checks-")))
        if args.database == "sqlite":
            url = f"sqlite:///{work / 'portcullis.db'}"
        else:
            url = stack.enter_context(service.postgres_database(POSTGRES_URL))
        env = service.service_env(work, url)
        env["PORTCULLIS_LOG_FORMAT"] = "json"
        # Sign-ins are not measured here: cheap hashing makes the set-up quick (under
        # valgrind too); a token check hashes nothing with argon2.
        env.update(PORTCULLIS_ARGON2_MEMORY_KIB="1024", PORTCULLIS_ARGON2_TIME_COST="1")
        service.migrate(env, work)
        logins = service.seed(env, 16)
        # The access lines go to stderr, as under serve; here to /dev/null.
        stack.enter_context(contextlib.redirect_stderr(stack.enter_context(open(os.devnull, "w"))))
        uvloop.run(measure(args, env, logins))


if __name__ == "__main__":
    main()
