"""Where composed messages go: an SMTP server, a folder of .eml files, or the console."""

from __future__ import annotations

import os
import ssl
import sys
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib


class Transport(Protocol):
    async def send(self, message: EmailMessage, recipient: str) -> None:
        """Deliver ``message`` to ``recipient`` alone; raise on failure to retry it later.

        The envelope names ``recipient`` only, whatever the headers say.
        """
        ...


class FileTransport:
    """One RFC 5322 ``.eml`` file per message, written whole before it appears."""

    def __init__(self, folder: Path):
        self.folder = folder

    async def send(self, message: EmailMessage, recipient: str) -> None:
        # Mails carry live activation and reset keys: readable by the service's user only.
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:12]}"
        partial = self.folder / f".{name}.tmp"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(bytes(message))
        os.replace(partial, self.folder / f"{name}.eml")


class ConsoleTransport:
    async def send(self, message: EmailMessage, recipient: str) -> None:
        sys.stdout.write(message.as_string() + "\n")
        sys.stdout.flush()


class SmtpTransport:
    """``smtp://`` (STARTTLS when offered, or forced with ``?starttls=required``), ``smtps://``.

    Certificates are verified against the system's CAs, or against ``?cafile=PATH`` for
    a relay with a private CA.
    """

    def __init__(self, url: str, timeout: float = 30):
        parts = urlsplit(url)
        options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        self._implicit_tls = parts.scheme == "smtps"
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (465 if self._implicit_tls else 25)
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        starttls = options.get("starttls", "auto")
        if starttls not in ("auto", "required", "off"):
            raise ValueError(f"starttls={starttls!r} in the mail URL: use required or off")
        self._start_tls: bool | None = {"required": True, "off": False}.get(starttls)
        cafile = options.get("cafile")
        self._tls_context = ssl.create_default_context(cafile=cafile) if cafile else None
        self._timeout = timeout

    async def send(self, message: EmailMessage, recipient: str) -> None:
        await aiosmtplib.send(
            message,
            recipients=[recipient],  # RCPT TO: not read back out of the headers
            hostname=self._host,
            port=self._port,
            username=self._username,
            password=self._password,
            use_tls=self._implicit_tls,
            start_tls=False if self._implicit_tls else self._start_tls,
            tls_context=self._tls_context,
            timeout=self._timeout,
        )


def transport_for(url: str) -> Transport:
    scheme = urlsplit(url).scheme
    if scheme == "file":
        return FileTransport(Path(unquote(urlsplit(url).path)))
    if scheme == "console":
        return ConsoleTransport()
    if scheme in ("smtp", "smtps"):
        return SmtpTransport(url)
    raise ValueError(f"unsupported mail URL {url!r}: use smtp://, smtps://, file:// or console:")
