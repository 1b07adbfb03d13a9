"""One Settings object, read from ``PORTCULLIS_*`` environment variables and ``.env``."""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import limits
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from portcullis.core.models import StorageMode
from portcullis.locale import LANGUAGES

# The instance key that needs no configuration: its links open the service's own pages.
DEFAULT_INSTANCE = "default"


def _web_url(value: str) -> str:
    if not value.startswith(("http://", "https://")) or len(value) <= len("https://"):
        raise ValueError(f"not an http:// or https:// address: {value!r}")
    return value


class Settings(BaseSettings):
    """Everything an operator can set. Each field is documented in the README."""

    model_config = SettingsConfigDict(env_prefix="PORTCULLIS_", env_file=".env", extra="ignore")

    data_dir: Path = Path("var")
    database_url: str = ""
    mail_url: str = ""
    secret_key: str = ""
    public_url: str = "http://127.0.0.1:8000"
    # Each a base (links are base/path/key) or a template holding {key} and perhaps {uid}
    # (https://thr.example/reset_password?uidb64={uid}&token={key}).
    instances: dict[str, str] = Field(default_factory=dict)
    # The Track Hub Registry's front end: the instances its mailed links use. Unset, or
    # not among the instances, its links lead to this service's own pages.
    trackhub_verify_instance: str = "trackhub_verify"
    trackhub_reset_instance: str = "trackhub_reset"

    environment: str = "PROD"
    product_name: str = "Portcullis"
    mail_from: str = "Portcullis <no-reply@localhost>"

    require_activation: bool = True
    reveal_existing_registration: bool = False
    # Instance keys that are themselves local addresses (http://localhost:4200) are used as
    # the link base, as the real BioStudies service allows in development.
    dev_instances: bool = False

    # BioStudies' clients: where new accounts' files live unless registration says
    # (the profile's uploadType), and the folder FTP users' paths are given under.
    default_storage_mode: StorageMode = StorageMode.NFS
    ftp_root: str = ""
    # "Log in as": a superuser's session token accepted as a user's password.
    impersonation: bool = False

    session_lifetime_seconds: int = Field(default=7 * 24 * 3600, gt=0)
    session_idle_seconds: int = Field(default=24 * 3600, gt=0)
    activation_key_lifetime_seconds: int = Field(default=7 * 24 * 3600, gt=0)
    reset_key_lifetime_seconds: int = Field(default=3600, gt=0)
    # Audit events older than this are purged (in batches, with the rest); 0 keeps
    # them for ever. 400 days: a year's reviews, with a month to spare.
    audit_retention_days: int = Field(default=400, ge=0)
    # How often each worker purges what has lapsed; 0: never (`portcullis purge` from cron
    # instead, once for all the instances behind a load balancer).
    purge_interval_seconds: int = Field(default=600, ge=0)
    # The longest a personal or service access token may last (and its default).
    access_token_max_days: int = Field(default=365, gt=0, le=3650)
    # `portcullis import`: how long a pending user's mailed key, and a script's API token,
    # go on working here, counted from the import.
    import_key_lifetime_seconds: int = Field(default=14 * 24 * 3600, gt=0)
    import_token_lifetime_seconds: int = Field(default=30 * 24 * 3600, gt=0)

    # Within what argon2 itself takes (checked again below), so a setting it would refuse
    # stops the service at start instead of failing every sign-in.
    argon2_memory_kib: int = Field(default=19 * 1024, ge=8, le=4 * 1024 * 1024)
    argon2_time_cost: int = Field(default=2, ge=1, le=2**32 - 1)
    argon2_parallelism: int = Field(default=1, ge=1, le=64)  # lanes, each a thread
    hash_concurrency: int = Field(default=0, ge=0, le=256)  # each slot a thread per worker

    password_min_length: int = Field(default=8, ge=1, le=1024)

    captcha_secret: str = ""
    captcha_verify_url: str = "https://www.google.com/recaptcha/api/siteverify"
    # The widget on the register and forgot-password pages (shown only with a secret set).
    captcha_site_key: str = ""
    captcha_script_url: str = "https://www.google.com/recaptcha/api.js"
    captcha_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["https://www.google.com", "https://www.gstatic.com"]
    )

    # The account pages' look: a CSS colour for the header and buttons, and its text colour.
    brand_color: str = Field(default="#1d4f73", pattern=r"^#[0-9a-fA-F]{3,8}$")
    brand_text_color: str = Field(default="#ffffff", pattern=r"^#[0-9a-fA-F]{3,8}$")
    # The pages' and mails' language: empty, each browser's choice by Accept-Language
    # (mails: English); or one of the shipped languages (en, de) for everyone.
    language: str = ""
    # A logo in the pages' header: an https:// address, or a path on this site; none if empty.
    logo_url: str = ""

    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    mail_retry_max_seconds: int = Field(default=600, gt=0)
    mail_poll_seconds: float = Field(default=2.0, gt=0)

    # Counters for lockout and rate limits: in process memory unless a Redis URL is set.
    redis_url: str = ""
    redis_key_prefix: str = "portcullis"
    # Peers (IPs or CIDRs) whose X-Forwarded-For is believed; empty: the socket's address.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Origins allowed to call the API from a browser, with credentials; empty: CORS off.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    login_lockout_threshold: int = Field(default=5, ge=1)
    login_lockout_base_seconds: int = Field(default=60, gt=0)
    login_lockout_max_seconds: int = Field(default=3600, gt=0)
    login_lockout_daily_failures: int = Field(default=100, ge=1, le=100)
    # Per client address (``limits`` notation, e.g. "30/minute" or "10 per hour").
    rate_limit_login: str = "30/minute"
    rate_limit_register: str = "10/hour"
    rate_limit_mail: str = "10/hour"  # reset, retryact, password setup, e-mail change mails
    rate_limit_key: str = "30/minute"  # activation and password-change-with-key
    # Reset mails per client address and e-mail address.
    rate_limit_reset_per_account: str = "3/hour"

    cookie_secure: bool = True

    # Forward-auth (/auth/verify): the READ tags a path prefix needs, as JSON
    # ({"/submissions/": ["S-BSST1"]}); the longest matching prefix applies.
    gateway_rules: dict[str, list[str]] = Field(default_factory=dict)

    # Metrics at /metrics: off unless a token or allowed addresses are set, then only
    # for a bearer of that token or a client in those networks (IPs or CIDRs).
    metrics_token: str = ""
    metrics_allow: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # "json" or "text"; unset, text on a terminal and JSON otherwise.
    log_format: Literal["", "json", "text"] = ""
    access_log: bool = True
    # /openapi.json and /docs: off unless asked for (``portcullis openapi`` prints it).
    api_docs: bool = False

    @field_validator(
        "trusted_proxies", "cors_origins", "captcha_origins", "metrics_allow", mode="before"
    )
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator(
        "rate_limit_login",
        "rate_limit_register",
        "rate_limit_mail",
        "rate_limit_key",
        "rate_limit_reset_per_account",
    )
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        try:
            limits.parse(value)
        except ValueError:
            raise ValueError(f'"{value}" is not a rate such as 30/minute') from None
        return value

    @field_validator("database_url")
    @classmethod
    def _database_kind(cls, value: str) -> str:
        if not value:
            return value
        scheme = value.split("://", 1)[0] if "://" in value else ""
        kind = scheme.split("+", 1)[0].lower()
        if kind == "postgres":
            raise ValueError("write postgresql:// (SQLAlchemy no longer reads postgres://)")
        if kind not in ("sqlite", "postgresql"):
            said = f"{kind} is not supported" if kind else "not a database URL"
            raise ValueError(f"{said}; use sqlite:/// or postgresql://")
        return value

    @field_validator("trusted_proxies", "metrics_allow")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)  # raises ValueError
        return value

    @field_validator("cors_origins")
    @classmethod
    def _explicit_origins(cls, value: list[str]) -> list[str]:
        # Credentials are allowed for listed origins, so "*" would hand them to any site.
        if "*" in value:
            raise ValueError("list the allowed origins explicitly; '*' is not accepted")
        return [origin.rstrip("/") for origin in value]

    @field_validator("gateway_rules")
    @classmethod
    def _path_prefixes(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for prefix in value:
            if not prefix.startswith("/"):
                raise ValueError(f"a gateway rule names a path prefix starting with /: {prefix!r}")
        return value

    @field_validator("public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return _web_url(value).rstrip("/")

    @field_validator("instances")
    @classmethod
    def _instance_urls(cls, value: dict[str, str]) -> dict[str, str]:
        # Mailed links start with these: nothing but a web address may stand there, and
        # in a template nothing but the key and the account's handle is filled in.
        for url in value.values():
            holes = set(re.findall(r"\{[^}]*\}?", url))
            if holes - {"{key}", "{uid}"} or (holes and "{key}" not in holes):
                raise ValueError(f"a link template fills in {{key}} and {{uid}} only: {url!r}")
        return {key: _web_url(url) for key, url in value.items()}

    @field_validator("captcha_script_url")
    @classmethod
    def _https_script(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError("the captcha script must be loaded over https://")
        return value

    @field_validator("language")
    @classmethod
    def _shipped_language(cls, value: str) -> str:
        value = value.strip().lower()
        if value and value not in LANGUAGES:
            raise ValueError(
                f"not one of the shipped languages ({', '.join(LANGUAGES)}): {value!r}"
            )
        return value

    @field_validator("logo_url")
    @classmethod
    def _logo(cls, value: str) -> str:
        # The pages' Content-Security-Policy allows images from this one origin too.
        parts = urlsplit(value)
        on_site = value.startswith("/") and not value.startswith("//")
        if value and not on_site and not (parts.scheme == "https" and parts.netloc):
            raise ValueError(f"not an https:// address or a path on this site: {value!r}")
        if any(c in value for c in " '\"\\;,"):
            raise ValueError(
                f"a logo address has no spaces, quotes, commas or semicolons: {value!r}"
            )
        return value

    @field_validator("mail_from")
    @classmethod
    def _mailbox(cls, value: str) -> str:
        _, address = parseaddr(value)
        if not address or " " in address or address.count("@") != 1:
            raise ValueError(f"not a mailbox: {value!r} (e.g. 'Portal <no-reply@example.org>')")
        return value

    @model_validator(mode="after")
    def _argon2_memory_per_lane(self) -> Settings:
        if self.argon2_memory_kib < 8 * self.argon2_parallelism:
            raise ValueError("argon2 needs at least 8 KiB of memory per lane (parallelism)")
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'portcullis.db').resolve()}"

    @property
    def resolved_mail_url(self) -> str:
        return self.mail_url or f"file://{(self.data_dir / 'outbox').resolve()}"

    @property
    def metrics_enabled(self) -> bool:
        return bool(self.metrics_token or self.metrics_allow)

    @property
    def session_cookie_name(self) -> str:
        return f"BIOSTDSESS-{self.environment}"

    @property
    def all_instances(self) -> dict[str, str]:
        """Configured instances plus the built-in one that points at our own pages."""
        return {DEFAULT_INSTANCE: f"{self.public_url}/account", **self.instances}

    @property
    def effective_hash_concurrency(self) -> int:
        return self.hash_concurrency or (os.cpu_count() or 1)

    def server_secret(self) -> bytes:
        """The key for token and one-time-key hashes.

        Taken from ``PORTCULLIS_SECRET_KEY`` when set; otherwise made once and kept
        in the data directory, readable by the owner only, so every worker and
        restart on this machine shares it.
        """
        if self.secret_key:
            return self.secret_key.encode()
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            fresh = secrets.token_hex(32)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another worker made it first: read theirs
            else:
                with os.fdopen(fd, "w") as handle:
                    handle.write(fresh)
        return path.read_text().strip().encode()
