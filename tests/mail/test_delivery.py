"""Mail leaves through the outbox: a real SMTP server on loopback, retries, nothing lost."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.conftest import SettingsFactory
from tests.support import PASSWORD, RunningServer, add_account, free_port

REGISTER = {
    "name": "Mail Test",
    "email": "mail@example.org",
    "password": PASSWORD,
    "instanceKey": "default",
    "path": "activate",
}


class Inbox:
    """An aiosmtpd handler that keeps what it accepts, and can refuse the first tries."""

    def __init__(self, refuse_first: int = 0):
        self.messages: list[EmailMessage] = []
        self.refusals_left = refuse_first
        self.attempts = 0
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.attempts += 1
            if self.refusals_left > 0:
                self.refusals_left -= 1
                return "451 4.3.0 try again later"
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            self.messages.append(message)
        return "250 OK"

    def wait(self, count: int = 1, timeout: float = 20) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.messages) >= count:
                return self.messages
            time.sleep(0.05)
        raise AssertionError(f"{len(self.messages)} of {count} messages arrived")


def smtp_server(inbox: Inbox, port: int, **options: Any) -> Controller:
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    return controller


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def smtp_settings(settings_for: SettingsFactory, smtp_port: int) -> Any:
    return settings_for(mail_url=f"smtp://127.0.0.1:{smtp_port}", mail_retry_max_seconds=1)


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())  # type: ignore[attr-defined]


def test_multipart_mail_reaches_a_real_smtp_server(
    smtp_settings: Any, smtp_port: int, make_server: Any
) -> None:
    inbox = Inbox()
    controller = smtp_server(inbox, smtp_port)
    try:
        server: RunningServer = make_server(smtp_settings)
        with server.client() as client:
            assert client.post("/auth/register", json=REGISTER).status_code == 201
        [message] = inbox.wait()
    finally:
        controller.stop()
    assert message["To"] == "mail@example.org"
    assert message["Subject"] == "Portcullis Account Activation"
    assert message.get_content_type() == "multipart/alternative"
    assert message.get_body(("html",)) is not None
    assert "/account/activate/" in text_of(message)


def test_answer_does_not_wait_for_smtp_and_mail_arrives_once_it_is_up(
    smtp_settings: Any, smtp_port: int, make_server: Any
) -> None:
    server: RunningServer = make_server(smtp_settings)
    with server.client() as client:
        started = time.monotonic()
        assert client.post("/auth/register", json=REGISTER).status_code == 201
        assert time.monotonic() - started < 5  # SMTP is down: the answer came anyway
    time.sleep(1.5)  # a few failed attempts against the closed port
    inbox = Inbox()
    controller = smtp_server(inbox, smtp_port)
    try:
        inbox.wait(timeout=20)
        time.sleep(1.5)
    finally:
        controller.stop()
    assert len(inbox.messages) == 1


def test_refused_attempts_are_retried_and_delivered_exactly_once(
    smtp_settings: Any, smtp_port: int, make_server: Any
) -> None:
    inbox = Inbox(refuse_first=2)
    controller = smtp_server(inbox, smtp_port)
    try:
        server: RunningServer = make_server(smtp_settings)
        with server.client() as client:
            client.post("/auth/register", json=REGISTER)
        inbox.wait(timeout=20)
        time.sleep(1.5)
    finally:
        controller.stop()
    assert inbox.attempts == 3
    assert len(inbox.messages) == 1


# A test SMTP server on loopback: plain AUTH is what we want to see arrive.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_credentials_in_the_url_are_used(
    settings_for: SettingsFactory, smtp_port: int, make_server: Any
) -> None:
    seen: list[tuple[str, str]] = []

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        seen.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"p@ss word")

    inbox = Inbox()
    controller = smtp_server(
        inbox, smtp_port, authenticator=authenticator, auth_require_tls=False, auth_required=True
    )
    try:
        server: RunningServer = make_server(
            settings_for(
                mail_url=f"smtp://mailer:p%40ss%20word@127.0.0.1:{smtp_port}",
                mail_retry_max_seconds=1,
            )
        )
        with server.client() as client:
            client.post("/auth/register", json=REGISTER)
        inbox.wait()
    finally:
        controller.stop()
    assert seen[0] == ("mailer", "p@ss word")


def test_the_outbox_keeps_no_key_once_sent(server: RunningServer) -> None:
    add_account(server.settings, "scrub@example.org")
    with server.client() as client:
        client.post(
            "/auth/password/reset",
            json={"email": "scrub@example.org", "instanceKey": "default", "path": "reset"},
        )
    mail = server.wait_for_mail("scrub@example.org")
    time.sleep(0.5)

    async def payloads() -> list[Any]:
        from sqlalchemy import select

        from portcullis.services import build_services
        from portcullis.storage.tables import mail_outbox

        services = build_services(server.settings)
        async with services.engine.connect() as db:
            rows = (await db.execute(select(mail_outbox))).all()
        await services.close()
        return [(row.payload, row.sent_at) for row in rows]

    rows = asyncio.run(payloads())
    assert rows and all(payload is None and sent for payload, sent in rows)
    if server.settings.resolved_database_url.startswith("sqlite"):
        files = Path(server.settings.resolved_database_url.removeprefix("sqlite:///")).parent
        stored = b"".join(p.read_bytes() for p in files.glob("portcullis.db*"))
        assert mail.key.encode() not in stored


@pytest.fixture
def console_settings(settings_for: SettingsFactory) -> Iterator[Any]:
    yield settings_for(mail_url="console:")


def test_console_transport_prints_the_message(
    console_settings: Any, make_server: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    server: RunningServer = make_server(console_settings)
    with server.client() as client:
        client.post("/auth/register", json=REGISTER)
    deadline = time.monotonic() + 10
    out = ""
    while time.monotonic() < deadline and "Account Activation" not in out:
        time.sleep(0.1)
        out += capfd.readouterr().out
    assert "Subject: Portcullis Account Activation" in out


def test_an_unreadable_outbox_is_logged_whole_once_then_a_line_a_poll(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The database is away (nothing listens on port 1): the sender must not flood the log
    # with a traceback every poll for as long as the outage lasts.
    from portcullis.config import Settings
    from portcullis.services import build_services

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path,
        database_url="postgresql://postgres@127.0.0.1:1/nowhere",
        mail_poll_seconds=0.05,
        argon2_memory_kib=1024,
        argon2_time_cost=1,
    )

    async def run_a_while() -> None:
        services = build_services(settings)
        sender = asyncio.create_task(services.mail_sender.run())
        await asyncio.sleep(1)
        sender.cancel()
        await services.close()

    with caplog.at_level("WARNING", logger="portcullis.mail"):
        asyncio.run(run_a_while())
    records = [r for r in caplog.records if r.name == "portcullis.mail"]
    assert len(records) >= 3
    # The traceback is exc_text once storage/redaction.py's filter has told its database
    # errors by kind (it takes exc_info away), else exc_info.
    tracebacks = [r.exc_info is not None or bool(r.exc_text) for r in records]
    assert tracebacks == [True] + [False] * (len(records) - 1)
    assert all("still unreadable" in r.getMessage() for r in records[1:])
