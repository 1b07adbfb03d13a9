"""Plain helpers for the tests: a real server on loopback, the outbox, accounts."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from portcullis.app import create_app
from portcullis.config import Settings
from portcullis.core.models import Account
from portcullis.services import build_services

PASSWORD = "a sturdy test passphrase"
LINK = re.compile(r"https?://[^\s\"<>]+")


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def free_port() -> int:
    with free_socket() as sock:
        return int(sock.getsockname()[1])


@dataclass
class Mail:
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def to(self) -> str:
        return str(self.message["To"])

    @property
    def text(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content())  # type: ignore[attr-defined]

    @property
    def html(self) -> str:
        part = self.message.get_body(("html",))
        assert part is not None
        return str(part.get_content())  # type: ignore[attr-defined]

    @property
    def link(self) -> str:
        found = LINK.search(self.text)
        assert found, self.text
        return found.group(0)

    @property
    def key(self) -> str:
        return self.link.rstrip("/").rsplit("/", 1)[1]


def read_eml(path: Path) -> Mail:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return Mail(message)


@dataclass
class RunningServer:
    """The app under uvicorn in a thread, reached over real HTTP on loopback."""

    settings: Settings
    url: str
    _server: uvicorn.Server
    _thread: threading.Thread
    _seen: set[str] = field(default_factory=set)

    @property
    def app(self) -> Any:
        """The ASGI application being served (to swap a service for a fake)."""
        return self._server.config.app

    @property
    def outbox(self) -> Path:
        return self.settings.data_dir / "outbox"

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)

    def mails(self) -> list[Mail]:
        if not self.outbox.exists():
            return []
        return [read_eml(path) for path in sorted(self.outbox.glob("*.eml"))]

    def wait_for_mail(self, to: str, subject_part: str = "", timeout: float = 10) -> Mail:
        """The next mail to ``to`` not returned before (its subject containing the part)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for path in sorted(self.outbox.glob("*.eml")) if self.outbox.exists() else []:
                if path.name in self._seen:
                    continue
                mail = read_eml(path)
                if mail.to == to and subject_part in mail.subject:
                    self._seen.add(path.name)
                    return mail
            time.sleep(0.05)
        raise AssertionError(f"no mail to {to} with {subject_part!r} within {timeout}s")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)


def start_server(settings: Settings, sock: socket.socket | None = None) -> RunningServer:
    """Serve ``settings`` on ``sock`` (bound beforehand when the settings must name its URL)."""
    sock = sock or free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings),
        log_level="warning",
        access_log=False,
        lifespan="on",
        # As `portcullis serve`: the app, not uvicorn, decides what X-Forwarded-For means.
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    return RunningServer(
        settings=settings, url=f"http://127.0.0.1:{port}", _server=server, _thread=thread
    )


def add_account(
    settings: Settings,
    email_address: str,
    password: str | None = PASSWORD,
    **options: Any,
) -> Account:
    """Create an account through the core, as the CLI does."""

    async def create() -> Account:
        services = build_services(settings)
        try:
            return await services.admin.add_user(email_address, password, **options)
        finally:
            await services.close()

    return asyncio.run(create())


def _on_account(settings: Settings, email_address: str, new_hash: str | None = None) -> Account:
    """The account as stored (before ``new_hash``, if given, is stored as it is)."""

    async def run() -> Account:
        services = build_services(settings)
        try:
            async with services.unit_of_work() as uow:
                account = await uow.accounts.by_email(email_address)
                assert account is not None
                if new_hash is not None:
                    await uow.accounts.set_password_hash(account.id, new_hash)
                return account
        finally:
            await services.close()

    return asyncio.run(run())


def stored_account(settings: Settings, email_address: str) -> Account:
    """The account as stored, password hash and all."""
    return _on_account(settings, email_address)


def set_password_hash(settings: Settings, email_address: str, password_hash: str) -> None:
    """Store ``password_hash`` as it is, as an import leaves a legacy one."""
    _on_account(settings, email_address, password_hash)


def grant(settings: Settings, email_address: str, tag: str) -> None:
    async def run() -> None:
        services = build_services(settings)
        try:
            await services.admin.grant(email_address, tag)
        finally:
            await services.close()

    asyncio.run(run())


def login(client: httpx.Client, who: str, password: str = PASSWORD) -> str:
    answer = client.post("/auth/login", json={"login": who, "password": password})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["sessid"])


def fail_body(message: str, *problems: str) -> dict[str, Any]:
    return {
        "status": "FAIL",
        "log": {
            "level": "ERROR",
            "message": message,
            "subnodes": [{"level": "ERROR", "message": p, "subnodes": []} for p in problems],
        },
    }


def audit_rows(settings: Settings) -> list[dict[str, Any]]:
    """Every row of the audit table, raw, oldest first."""
    from sqlalchemy import select

    from portcullis.storage.tables import audit_log

    async def read() -> list[dict[str, Any]]:
        services = build_services(settings)
        try:
            async with services.engine.connect() as connection:
                result = await connection.execute(select(audit_log).order_by(audit_log.c.id))
                return [dict(row._mapping) for row in result]
        finally:
            await services.close()

    return asyncio.run(read())


def wrong_logins(client: httpx.Client, who: str, times: int) -> list[httpx.Response]:
    return [
        client.post("/auth/login", json={"login": who, "password": "not the password"})
        for _ in range(times)
    ]


class TcpRelay:
    """Relays a loopback port to a TCP server; ``cut`` and ``restore`` play an outage."""

    def __init__(self, host: str, port: int):
        self._target = (host, port)
        self._listener = free_socket()
        self.port = int(self._listener.getsockname()[1])
        self._open: list[socket.socket] = []
        self._start()

    def _start(self) -> None:
        self._listener.listen()
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                inbound, _ = listener.accept()
            except OSError:
                return
            outbound = socket.create_connection(self._target)
            self._open += [inbound, outbound]
            for a, b in ((inbound, outbound), (outbound, inbound)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        # shutdown, not just close: it wakes the thread blocked in accept (Linux).
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for sock in self._open:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._open.clear()

    def restore(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", self.port))
        self._start()
