"""What ``serve`` says as it starts: where things are, and what is risky about them."""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from portcullis.config import Settings
from portcullis.observability.meters import fields

log = logging.getLogger("portcullis.start")

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True, slots=True)
class Start:
    """How serve was asked to run, beside the settings."""

    host: str
    port: int
    workers: int
    redis_reachable: bool | None  # None: no Redis configured


def without_password(url: str) -> str:
    """A URL as it may be shown: the password (if any) starred out."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def _is_local(host: str) -> bool:
    if host in LOCAL_HOSTS or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _say(message: str, *args: object, **values: object) -> None:
    log.info(message, *args, extra=fields(event="start", **values))


def report(settings: Settings, start: Start) -> None:
    """One line for each of where things are; then a warning for each risk found."""
    database = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    _say("data directory %s", settings.data_dir.resolve(), data_dir=settings.data_dir.resolve())
    _say("database %s", database, database=database)
    mail = without_password(settings.resolved_mail_url)
    _say("mail by %s from the outbox table", mail, mail=mail, outbox="mail_outbox")
    pages = f"{settings.public_url}/account"
    _say("public URL %s, pages at %s", settings.public_url, pages, public_url=settings.public_url)
    limits = without_password(settings.redis_url) if settings.redis_url else "in process memory"
    _say("rate limits and lockout counts in %s", limits, limits=limits)
    _say(
        "listening on %s:%s with %s worker(s)",
        start.host,
        start.port,
        start.workers,
        workers=start.workers,
    )
    _say("metrics %s", "on at /metrics" if settings.metrics_enabled else "off")
    for warning in risks(settings, start):
        log.warning(warning, extra=fields(event="start_warning"))


def risks(settings: Settings, start: Start) -> list[str]:
    found = []
    if start.workers > 1 and not settings.redis_url:
        found.append(
            f"{start.workers} workers without Redis: each counts the per-address rate limits "
            "apart, so a client gets that many times the budget (set PORTCULLIS_REDIS_URL)"
        )
    if not settings.secret_key and not make_url(
        settings.resolved_database_url
    ).get_backend_name().startswith("sqlite"):
        found.append(
            "the server secret is a file in the data directory while the database is "
            "PostgreSQL: another instance on the same database makes its own, and tokens "
            "from one fail on the other (set PORTCULLIS_SECRET_KEY)"
        )
    public = urlsplit(settings.public_url)
    if settings.cookie_secure and public.scheme == "http" and not _is_local(public.hostname or ""):
        found.append(
            f"cookies are Secure but {settings.public_url} is plain HTTP: browsers will not "
            "send them back, so the pages cannot keep anyone signed in (serve over HTTPS)"
        )
    if start.redis_reachable is False:
        found.append(
            "Redis cannot be reached now: sign-ins and limited calls answer 503 until it can"
        )
    return found
