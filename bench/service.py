"""The service under test as it runs in production: real processes, real databases."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from argon2 import PasswordHasher as Argon2Hasher
from sqlalchemy.engine import make_url

from bench.harness import CpuReading, cpu_ticks, idle_ticks, task_stat
from portcullis.config import Settings
from portcullis.core.models import AccountStatus, NewAccount, StorageMode
from portcullis.core.passwords import HASHING_THREAD_NAME
from portcullis.core.tokens import new_account_secret
from portcullis.services import build_services

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")  # the unit of every CPU time in /proc
PORTCULLIS = Path(sys.executable).with_name("portcullis")
PASSWORD = "bench passphrase, long enough and not common"

# OWASP's argon2id minimum, the service's defaults, set explicitly so the run says so.
ARGON2 = {"memory_kib": 19 * 1024, "time_cost": 2, "parallelism": 1}

# The brute-force defences must not refuse the bench's own logins: every login comes from
# 127.0.0.1, so the per-address limits are raised far above what 8 connections can reach.
# The per-account lockout counts every check until it succeeds (so one account's checks
# in flight at once count against its threshold, raised here) and every bench login
# succeeds; the accounts are many besides, so no account is near any per-account limit.
UNLIMITED = {
    "PORTCULLIS_RATE_LIMIT_LOGIN": "1000000/second",
    "PORTCULLIS_RATE_LIMIT_MAIL": "1000000/second",
    "PORTCULLIS_RATE_LIMIT_REGISTER": "1000000/second",
    "PORTCULLIS_LOGIN_LOCKOUT_THRESHOLD": "1000000",
}


def ensure_wrk() -> str:
    """The path of wrk, installed from Debian's packages if missing and we are root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise SystemExit("wrk is missing: install it (apt-get install wrk) and run again")
    print("installing wrk with apt-get", flush=True)
    lock = ["-o", "DPkg::Lock::Timeout=300"]  # other jobs may be installing too
    subprocess.run(["apt-get", *lock, "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", *lock, "install", "-y", "-qq", "--no-install-recommends", "wrk"],
        check=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        stdout=subprocess.DEVNULL,
    )
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("apt-get installed wrk but it is not on PATH")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- databases -----------------------------------------------------------------------


async def _admin(dsn: str, statement: str) -> None:
    connection = await asyncpg.connect(dsn, timeout=3)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def postgres_unreachable(url: str) -> str | None:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(False)
    try:
        asyncio.run(_admin(dsn, "SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        return str(error) or type(error).__name__
    return None


def settle_postgres(url: str) -> None:
    """Vacuum, analyze and checkpoint after the bulk load, as a database in service is.

    Otherwise autovacuum and the checkpointer do it in the middle of the measured runs,
    on the same two cores, and show in their tails.
    """
    dsn = make_url(url).set(drivername="postgresql").render_as_string(False)
    for statement in ("VACUUM ANALYZE", "CHECKPOINT"):
        asyncio.run(_admin(dsn, statement))


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A database of the bench's own, dropped afterwards; no other database is touched."""
    admin = make_url(admin_url)
    dsn = admin.set(drivername="postgresql").render_as_string(False)
    name = f"portcullis_bench_{secrets.token_hex(5)}"
    asyncio.run(_admin(dsn, f'CREATE DATABASE "{name}"'))
    try:
        yield admin.set(database=name).render_as_string(False)
    finally:
        asyncio.run(_admin(dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# --- the service -----------------------------------------------------------------------


def service_env(data_dir: Path, database_url: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PORTCULLIS_DATA_DIR": str(data_dir),
        "PORTCULLIS_DATABASE_URL": database_url,
        "PORTCULLIS_SECRET_KEY": secrets.token_hex(32),
        "PORTCULLIS_MAIL_URL": f"file://{data_dir / 'outbox'}",
        "PORTCULLIS_ARGON2_MEMORY_KIB": str(ARGON2["memory_kib"]),
        "PORTCULLIS_ARGON2_TIME_COST": str(ARGON2["time_cost"]),
        "PORTCULLIS_ARGON2_PARALLELISM": str(ARGON2["parallelism"]),
        **UNLIMITED,
    }


def settings_from(env: Mapping[str, str]) -> Settings:
    """The Settings the service will read from ``env``, for seeding in this process."""
    prefix = "PORTCULLIS_"
    values: dict[str, Any] = {
        k[len(prefix) :].lower(): v for k, v in env.items() if k.startswith(prefix)
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def migrate(env: Mapping[str, str], cwd: Path) -> None:
    subprocess.run(
        [str(PORTCULLIS), "migrate"], env=dict(env), cwd=cwd, check=True, stdout=subprocess.DEVNULL
    )


async def _seed(settings: Settings, count: int) -> list[str]:
    """``count`` active accounts sharing one password hash, made once.

    Hashing each at OWASP settings would take minutes; the hash is the same work at login
    whatever account it belongs to, so one hash serves them all.
    """
    services = build_services(settings)
    try:
        password_hash = await services.hasher.hash(PASSWORD)
        logins = [f"bench-{n:06d}@example.org" for n in range(count)]
        now = datetime.now(UTC)
        async with services.unit_of_work() as uow:
            for n, email in enumerate(logins):
                await uow.accounts.add(
                    NewAccount(
                        email=email,
                        username=None,
                        full_name=f"Bench User {n}",
                        orcid=None,
                        secret=new_account_secret(),
                        status=AccountStatus.ACTIVE,
                        superuser=False,
                        notifications_enabled=False,
                        password_hash=password_hash,
                        created_at=now,
                        storage_mode=StorageMode.NFS,
                    )
                )
        return logins
    finally:
        await services.close()


def seed(env: Mapping[str, str], count: int) -> list[str]:
    return asyncio.run(_seed(settings_from(env), count))


async def _password_hash(settings: Settings) -> str:
    services = build_services(settings)
    try:
        return await services.hasher.hash(PASSWORD)
    finally:
        await services.close()


def password_hash(settings: Settings) -> str:
    """PASSWORD hashed as the service stores it, for rows seeded below the service."""
    return asyncio.run(_password_hash(settings))


@dataclass
class Server:
    """A server in a subprocess (uvicorn's supervisor and its workers)."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def worker_pids(self) -> list[int]:
        """uvicorn's workers: its spawned children, not multiprocessing's resource tracker."""
        return [pid for pid in children_of(self.process.pid) if b"spawn_main" in _cmdline(pid)]

    def pids(self) -> list[int]:
        """The supervisor, which runs every worker's hashes (hash_service.py), and its workers."""
        return [self.process.pid, *self.worker_pids()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command may hold spaces and parentheses: the fields start after the last ')'.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _ticks_of(stat: Path) -> tuple[str, int]:
    """(name, CPU ticks) of a process or thread; ("", 0) once it is gone."""
    try:
        return task_stat(stat.read_text())
    except OSError:
        return "", 0


def cpu_seconds(pids: list[int]) -> float:
    """User and system time of the processes so far, all their threads included."""
    return sum(_ticks_of(Path(f"/proc/{pid}/stat"))[1] for pid in pids) / TICKS


def read_cpu(service_pids: list[int]) -> CpuReading:
    """The CPU time spent so far by the service's hashing threads, the rest of the
    service, the PostgreSQL server (every process named postgres), and the machine."""
    hashing = 0
    for pid in service_pids:
        for task in Path(f"/proc/{pid}/task").glob("*/stat"):
            name, ticks = _ticks_of(task)
            if name == HASHING_THREAD_NAME:
                hashing += ticks
    database = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        name, ticks = _ticks_of(stat)
        if name == "postgres":
            database += ticks
    idle, elapsed = idle_ticks(Path("/proc/stat").read_text())
    return CpuReading(
        hashing=hashing / TICKS,
        # A process's own total keeps the time of threads that have ended.
        workers=cpu_seconds(service_pids) - hashing / TICKS,
        database=database / TICKS,
        busy=(elapsed - idle) / TICKS,
        elapsed=elapsed / TICKS,
    )


def machine_ticks() -> tuple[int, int]:
    """(stolen, all) CPU ticks of this machine so far; (0, 0) without /proc."""
    try:
        return cpu_ticks(Path("/proc/stat").read_text())
    except (OSError, ValueError):
        return 0, 0


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def running(
    command: list[str], env: Mapping[str, str], port: int, workers: int, cwd: Path, log: Path
) -> Iterator[Server]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=dict(env), cwd=cwd, stdout=out, stderr=out)
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        _wait_ready(server, workers)
        yield server
    finally:
        server.stop()


@contextmanager
def serving(env: Mapping[str, str], workers: int, data_dir: Path) -> Iterator[Server]:
    """``portcullis serve`` on a free port, its log in ``data_dir``."""
    port = free_port()
    with running(
        serve_command(port, workers), env, port, workers, data_dir, data_dir / "server.log"
    ) as server:
        yield server


def _wait_ready(server: Server, workers: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited: see {server.log}\n{server.log.read_text()}")
        try:
            ok = httpx.get(server.url + "/healthz", timeout=1).status_code < 500
        except httpx.HTTPError:
            ok = False
        if ok and len(server.worker_pids()) >= workers:
            time.sleep(1.0)  # let the last worker finish its start-up
            return
        time.sleep(0.2)
    raise RuntimeError(f"the server did not start within {timeout:.0f}s: see {server.log}")


def serve_command(port: int, workers: int) -> list[str]:
    return [str(PORTCULLIS), "serve", "--workers", str(workers), "--port", str(port)]


def ceiling_command(port: int, workers: int) -> list[str]:
    return [sys.executable, "-m", "bench.ceiling", "--workers", str(workers), "--port", str(port)]


async def _sign_in(url: str, logins: list[str], concurrency: int) -> list[str]:
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def one(login: str) -> str:
            async with gate:
                answer = await client.post(
                    "/auth/login", json={"login": login, "password": PASSWORD}
                )
            answer.raise_for_status()
            return str(answer.json()["sessid"])

        return list(await asyncio.gather(*(one(login) for login in logins)))


def sign_in(url: str, logins: list[str], concurrency: int = 8) -> list[str]:
    """Tokens from real logins through the API."""
    return asyncio.run(_sign_in(url, logins, concurrency))


async def _personal_tokens(url: str, sessions: list[str]) -> list[str]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        made = []
        for session in sessions:
            answer = await client.post(
                "/auth/tokens",
                json={"name": "bench", "scope": "read"},
                headers={"X-Session-Token": session},
            )
            answer.raise_for_status()
            made.append(str(answer.json()["token"]))
        return made


def personal_tokens(url: str, sessions: list[str]) -> list[str]:
    """A read-scope personal access token of each session's account, made through the API."""
    return asyncio.run(_personal_tokens(url, sessions))


# --- the hash bound -------------------------------------------------------------------


def verify_cpu_seconds(rounds: int, threads: int) -> float:
    """CPU seconds of one argon2id verify at the bench's parameters.

    ``threads`` threads verify ``rounds`` times each, started together, and each times
    itself with ``thread_time()``: CPU time, so other load on the machine does not
    shrink the figure. With one thread per core this is what a verify costs while every
    core hashes, as in a login run; a verify on one core of an idle machine runs some
    percent faster (the core's clock and the shared caches are its own), which would
    put the bound above anything the cores can do together.
    """
    argon2 = Argon2Hasher(
        memory_cost=ARGON2["memory_kib"],
        time_cost=ARGON2["time_cost"],
        parallelism=ARGON2["parallelism"],
    )
    stored = argon2.hash(PASSWORD)
    start = threading.Barrier(threads)
    spent: list[float] = []

    def verify_rounds() -> None:
        argon2.verify(stored, PASSWORD)  # warm this thread's allocator arena
        start.wait()
        began = time.thread_time()
        for _ in range(rounds):
            argon2.verify(stored, PASSWORD)
        spent.append(time.thread_time() - began)

    workers = [threading.Thread(target=verify_rounds) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(spent) / (rounds * threads)


def cores() -> int:
    return len(os.sched_getaffinity(0))
