"""SMTP over TLS: STARTTLS required, and smtps:// from the first byte, with a private CA."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import SettingsFactory
from tests.mail.test_delivery import REGISTER, Inbox
from tests.support import RunningServer, free_port


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: our relay's "private CA"."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test relay")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "relay.pem", tmp_path / "relay.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def deliver(server: RunningServer, inbox: Inbox) -> None:
    with server.client() as client:
        assert client.post("/auth/register", json=REGISTER).status_code == 201
    [message] = inbox.wait(timeout=20)
    assert message["Subject"] == "Portcullis Account Activation"


@contextmanager
def relay(inbox: Inbox, **tls: Any) -> Iterator[int]:
    """A real SMTP server on loopback with the given TLS options; yields its port."""
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **tls)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def starttls(certificate: tuple[Path, Path]) -> dict[str, Any]:
    return {"tls_context": server_context(certificate), "require_starttls": True}


def test_starttls_required(
    certificate: tuple[Path, Path], settings_for: SettingsFactory, make_server: Any
) -> None:
    inbox = Inbox()
    with relay(inbox, **starttls(certificate)) as port:
        url = f"smtp://127.0.0.1:{port}?starttls=required&cafile={certificate[0]}"
        deliver(make_server(settings_for(mail_url=url, mail_retry_max_seconds=1)), inbox)


def test_smtps(
    certificate: tuple[Path, Path], settings_for: SettingsFactory, make_server: Any
) -> None:
    inbox = Inbox()
    with relay(inbox, ssl_context=server_context(certificate)) as port:
        url = f"smtps://127.0.0.1:{port}?cafile={certificate[0]}"
        deliver(make_server(settings_for(mail_url=url, mail_retry_max_seconds=1)), inbox)


def test_an_untrusted_certificate_is_refused(
    certificate: tuple[Path, Path], settings_for: SettingsFactory, make_server: Any
) -> None:
    inbox = Inbox()
    with relay(inbox, **starttls(certificate)) as port:
        # No cafile: the system's CAs do not know this relay, so nothing is sent to it.
        url = f"smtp://127.0.0.1:{port}?starttls=required"
        server = make_server(settings_for(mail_url=url, mail_retry_max_seconds=1))
        with server.client() as client:
            assert client.post("/auth/register", json=REGISTER).status_code == 201
        with pytest.raises(AssertionError):
            inbox.wait(timeout=3)
