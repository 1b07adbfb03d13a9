"""The composition root: the core's services wired to the adapters the settings name."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher as Argon2Hasher
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from portcullis.attempts.memory import MemoryAttempts
from portcullis.attempts.redis_store import RedisAttempts
from portcullis.attempts.remote import RemoteAttempts
from portcullis.captcha import SiteVerify
from portcullis.config import Settings
from portcullis.core.access_tokens import AccessTokens, TokenPolicy
from portcullis.core.accounts import AccountPolicy, Accounts
from portcullis.core.admin import Administration
from portcullis.core.audit import AuditTrail
from portcullis.core.deletion import AccountDeletion
from portcullis.core.email_change import EmailChanges
from portcullis.core.folders import Folders
from portcullis.core.housekeeping import Housekeeping
from portcullis.core.impersonation import Impersonation
from portcullis.core.keys import Keys, Links
from portcullis.core.lockout import Lockout, LockoutPolicy
from portcullis.core.models import KeyPurpose
from portcullis.core.passwords import (
    HashThreads,
    LocalHashing,
    PasswordHasher,
    PasswordPolicy,
    argon2id,
)
from portcullis.core.ports import Attempts, UnitOfWorkFactory
from portcullis.core.profiles import Profiles
from portcullis.core.service_accounts import ServiceAccounts
from portcullis.core.sessions import SessionPolicy, Sessions
from portcullis.core.signin import SignIn
from portcullis.core.tokens import Hasher
from portcullis.hash_service import HASH_SERVICE_SOCKET, RemoteHashing
from portcullis.hash_slots import HashSlots
from portcullis.hashing.legacy import LegacyVerifier
from portcullis.mail.compose import Composer
from portcullis.mail.sender import OutboxSender
from portcullis.mail.transports import transport_for
from portcullis.observability.meters import Meters, meters_for
from portcullis.storage.database import DatabaseUrl, create_engine
from portcullis.storage.hot_path import PostgresHotPath, SqliteHotPath
from portcullis.storage.mail_queue import SqlMailQueue
from portcullis.storage.sealing import Sealer
from portcullis.storage.stores import SqlUnitOfWork
from portcullis.throttling import LimitsRateLimiter, LimitsStore, rules_of

READINESS_TIMEOUT_SECONDS = 3


def argon2_of(settings: Settings) -> Argon2Hasher:
    return argon2id(
        settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
    )


def local_hashing(settings: Settings, meters: Meters | None = None) -> LocalHashing:
    """Hashing threads in this process, one per core (or as configured); their hashes
    bounded by slots shared with every process of this data directory."""
    concurrency = settings.effective_hash_concurrency
    gate = HashSlots(settings.data_dir, concurrency).held
    threads = HashThreads(concurrency, gate, instruments=meters)
    return LocalHashing(argon2_of(settings), threads, LegacyVerifier())


def lockout_policy(settings: Settings) -> LockoutPolicy:
    return LockoutPolicy(
        threshold=settings.login_lockout_threshold,
        base_seconds=settings.login_lockout_base_seconds,
        max_seconds=settings.login_lockout_max_seconds,
        daily_failures=settings.login_lockout_daily_failures,
    )


def attempts_of(
    settings: Settings,
    limits_store: LimitsStore,
    serve_process: RemoteHashing | None,
    meters: Meters,
) -> Attempts:
    """Where the lockout counts: Redis when configured (every instance and worker shares
    it), else the memory of serve's process for its workers, else this process's."""
    redis = limits_store.redis()
    if redis is not None:
        return RedisAttempts(redis, limits_store.key_prefix, lockout_policy(settings), meters)
    if serve_process is not None:
        return RemoteAttempts(serve_process)
    return MemoryAttempts(lockout_policy(settings))


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class Services:
    settings: Settings
    database: DatabaseUrl
    engine: AsyncEngine
    server_secret: bytes
    unit_of_work: UnitOfWorkFactory
    hot_path: SqliteHotPath | PostgresHotPath
    hasher: PasswordHasher
    accounts: Accounts
    profiles: Profiles
    email_changes: EmailChanges
    deletion: AccountDeletion
    sessions: Sessions
    tokens: AccessTokens
    housekeeping: Housekeeping
    service_accounts: ServiceAccounts
    admin: Administration
    login: SignIn
    impersonation: Impersonation
    folders: Folders
    mail_sender: OutboxSender
    audit: AuditTrail
    limiter: LimitsRateLimiter
    limits_store: LimitsStore
    meters: Meters

    async def readiness(self) -> dict[str, str]:
        """Each backing service and whether it answers: "ok", or why not."""
        checks = {"database": "ok"}
        try:
            async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
                async with self.engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
                await self.hot_path.ping()
        except Exception as error:  # any failure means: not ready; say which
            checks["database"] = f"unavailable: {type(error).__name__}"
        try:
            async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
                checks["redis"] = await self.limits_store.ping()
        except Exception as error:
            checks["redis"] = f"unavailable: {type(error).__name__}"
        # With several workers the hashes run in serve's own process: a worker that has
        # lost it (the supervisor killed, say, by the OOM killer) can check tokens but
        # cannot sign anyone in.
        try:
            async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
                await self.hasher.ping()
            checks["hashing"] = "ok"
        except Exception as error:
            checks["hashing"] = f"unavailable: {type(error).__name__}"
        return checks

    async def close(self) -> None:
        await self.limits_store.close()
        await self.hot_path.close()
        await self.engine.dispose()
        self.hasher.close()


def build_services(settings: Settings, clock: SystemClock | None = None) -> Services:
    clock = clock or SystemClock()
    meters = meters_for(settings.metrics_enabled)
    database = DatabaseUrl.parse(settings.resolved_database_url)
    engine = create_engine(database)

    server_secret = settings.server_secret()
    sealer = Sealer(server_secret)

    def unit_of_work(*, read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, sealer, read_only=read_only)

    hot_path: SqliteHotPath | PostgresHotPath = (
        SqliteHotPath(database.sqlite_path)
        if database.is_sqlite
        else PostgresHotPath(database.asyncpg_dsn)
    )
    secret_hasher = Hasher(server_secret)
    service_socket = os.environ.get(HASH_SERVICE_SOCKET)
    serve_process = RemoteHashing(service_socket) if service_socket else None
    hasher = PasswordHasher(argon2_of(settings), serve_process or local_hashing(settings, meters))
    password_policy = PasswordPolicy.default(settings.password_min_length)
    audit = AuditTrail(unit_of_work, clock)
    limits_store = LimitsStore(settings)
    limiter = LimitsRateLimiter(limits_store.storage, rules_of(settings), meters)
    lockout = Lockout(attempts_of(settings, limits_store, serve_process, meters), secret_hasher)
    keys = Keys(
        secret_hasher,
        clock,
        {
            KeyPurpose.ACTIVATION: timedelta(seconds=settings.activation_key_lifetime_seconds),
            KeyPurpose.PASSWORD_SETUP: timedelta(seconds=settings.activation_key_lifetime_seconds),
            KeyPurpose.PASSWORD_RESET: timedelta(seconds=settings.reset_key_lifetime_seconds),
            # Proves an address as activation does, so it lasts as long.
            KeyPurpose.EMAIL_CHANGE: timedelta(seconds=settings.activation_key_lifetime_seconds),
        },
    )
    captcha = (
        SiteVerify(settings.captcha_secret, settings.captcha_verify_url)
        if settings.captcha_secret
        else None
    )
    links = Links(settings.all_instances, settings.dev_instances)
    accounts = Accounts(
        unit_of_work,
        hasher,
        password_policy,
        keys,
        links,
        captcha,
        clock,
        AccountPolicy(
            require_activation=settings.require_activation,
            reveal_existing_registration=settings.reveal_existing_registration,
            default_storage_mode=settings.default_storage_mode,
        ),
        audit,
        limiter,
        hot_path,
        lockout,
    )
    tokens = AccessTokens(
        unit_of_work,
        hot_path,
        secret_hasher,
        clock,
        TokenPolicy(max_lifetime=timedelta(days=settings.access_token_max_days)),
        audit,
    )
    sessions = Sessions(
        unit_of_work,
        hot_path,
        secret_hasher,
        clock,
        SessionPolicy(
            lifetime=timedelta(seconds=settings.session_lifetime_seconds),
            idle=timedelta(seconds=settings.session_idle_seconds),
        ),
        audit,
        tokens,
        meters,
    )
    sender = OutboxSender(
        SqlMailQueue(engine, sealer),
        Composer(settings.product_name, settings.mail_from, settings.language),
        transport_for(settings.resolved_mail_url),
        clock,
        poll_seconds=settings.mail_poll_seconds,
        max_backoff_seconds=settings.mail_retry_max_seconds,
        meters=meters,
    )
    return Services(
        settings=settings,
        database=database,
        engine=engine,
        server_secret=server_secret,
        unit_of_work=unit_of_work,
        hot_path=hot_path,
        hasher=hasher,
        accounts=accounts,
        profiles=Profiles(unit_of_work, audit),
        email_changes=EmailChanges(unit_of_work, keys, links, clock, audit, limiter),
        deletion=AccountDeletion(unit_of_work, accounts, clock, audit),
        sessions=sessions,
        tokens=tokens,
        housekeeping=Housekeeping(
            sessions,
            accounts,
            tokens,
            audit,
            clock,
            timedelta(days=settings.audit_retention_days)
            if settings.audit_retention_days
            else None,
        ),
        service_accounts=ServiceAccounts(unit_of_work, clock, audit),
        admin=Administration(
            unit_of_work,
            hasher,
            password_policy,
            clock,
            sessions,
            audit,
            default_storage_mode=settings.default_storage_mode,
        ),
        login=SignIn(accounts, sessions, lockout, audit, meters),
        impersonation=Impersonation(sessions, accounts, audit, enabled=settings.impersonation),
        folders=Folders(settings.ftp_root),
        mail_sender=sender,
        audit=audit,
        limiter=limiter,
        limits_store=limits_store,
        meters=meters,
    )
