"""The envelope and the To header name the one stored address, on a real SMTP server."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from email.utils import getaddresses
from typing import Any

from sqlalchemy import select

from portcullis.config import Settings
from portcullis.core.models import Notice
from portcullis.services import build_services
from portcullis.storage.tables import mail_outbox
from tests.conftest import MakeServer, SettingsFactory
from tests.mail.test_delivery import REGISTER, Inbox, smtp_server
from tests.support import free_port

# Queued before addresses were checked as they are now: "victim" and "attacker" to a parser.
LEGACY_RECIPIENT = "victim@example.org,attacker@example.net"


class Envelopes(Inbox):
    """Keeps each accepted message's envelope recipients (RCPT TO) beside the message."""

    def __init__(self) -> None:
        super().__init__()
        self.recipients: list[list[str]] = []
        self._seen = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._seen:
            self.recipients.append(list(envelope.rcpt_tos))
        return await super().handle_DATA(server, session, envelope)


def queue(settings: Settings, notice: Notice) -> None:
    async def add() -> None:
        services = build_services(settings)
        try:
            async with services.unit_of_work() as uow:
                await uow.outbox.add(notice, datetime.now(UTC))
        finally:
            await services.close()

    asyncio.run(add())


def outbox_errors(settings: Settings) -> dict[str, str | None]:
    async def read() -> dict[str, str | None]:
        services = build_services(settings)
        try:
            async with services.engine.connect() as db:
                rows = await db.execute(select(mail_outbox.c.recipient, mail_outbox.c.last_error))
                return {row.recipient: row.last_error for row in rows}
        finally:
            await services.close()

    return asyncio.run(read())


def test_rcpt_to_and_to_are_the_stored_address_alone(
    settings_for: SettingsFactory, make_server: MakeServer
) -> None:
    port = free_port()
    settings = settings_for(mail_url=f"smtp://127.0.0.1:{port}", mail_retry_max_seconds=1)
    inbox = Envelopes()
    controller = smtp_server(inbox, port)
    try:
        queue(settings, Notice("password_changed", LEGACY_RECIPIENT, {"name": "Legacy"}))
        server = make_server(settings)
        with server.client() as client:
            assert client.post("/auth/register", json=REGISTER).status_code == 201
        [message] = inbox.wait()
        time.sleep(1.5)  # time enough for the legacy mail, and a retry of it, to go out
    finally:
        controller.stop()
    assert inbox.recipients == [["mail@example.org"]]
    assert len(inbox.messages) == 1
    assert getaddresses([str(message["To"])]) == [("", "mail@example.org")]
    assert outbox_errors(settings)[LEGACY_RECIPIENT] == "not one plain address"
