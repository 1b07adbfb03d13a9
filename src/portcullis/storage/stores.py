"""The core's stores on SQLAlchemy Core, one unit of work per transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import orjson
from sqlalchemy import Row, and_, delete, false, insert, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from portcullis.core.errors import DuplicateAccount
from portcullis.core.imports import ImportedAccount
from portcullis.core.models import (
    AccessType,
    Account,
    AccountStatus,
    AuditEvent,
    AuditKind,
    KeyPurpose,
    NewAccount,
    Notice,
    Permission,
    Session,
    StorageMode,
    UsedKey,
)
from portcullis.core.paging import Position
from portcullis.core.validation import canonical_login
from portcullis.storage.batches import delete_some
from portcullis.storage.database import READ_ONLY
from portcullis.storage.keyset import newest_first
from portcullis.storage.sealing import Sealer
from portcullis.storage.tables import accounts, audit_log, mail_outbox, one_time_keys, sessions
from portcullis.storage.token_store import SqlTokenStore


def epoch(at: datetime) -> int:
    return int(at.timestamp())


def from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def json_list(raw: Any) -> list[Any]:
    """A JSON column's list, as SQLAlchemy decodes it or as a raw driver hands it over."""
    if isinstance(raw, str | bytes):
        raw = orjson.loads(raw)
    return list(raw or ())


def permissions_of(raw: Any) -> tuple[Permission, ...]:
    return tuple(Permission(AccessType(p["access"]), p["tag"]) for p in json_list(raw))


def permissions_json(permissions: Sequence[Permission]) -> list[dict[str, str]]:
    return [{"access": p.access.value, "tag": p.tag} for p in permissions]


def dialect_fields_of(raw: Any) -> dict[str, Any]:
    """A JSON column's object (NULL is none), decoded as json_list does."""
    if isinstance(raw, str | bytes):
        raw = orjson.loads(raw)
    return dict(raw or {})


def account_from_row(row: Any) -> Account:
    """Works for SQLAlchemy rows and raw driver rows alike (same column names)."""
    return Account(
        id=row.id,
        email=row.email,
        username=row.username,
        full_name=row.full_name,
        orcid=row.orcid,
        secret=row.secret,
        status=AccountStatus(row.status),
        superuser=bool(row.superuser),
        notifications_enabled=bool(row.notifications_enabled),
        permissions=permissions_of(row.permissions),
        deny_tags=tuple(json_list(row.deny_tags)),
        created_at=from_epoch(row.created_at),
        last_activity_at=from_epoch(row.last_activity_at) if row.last_activity_at else None,
        storage_mode=StorageMode(row.storage_mode),
        password_hash=row.password_hash,
        email_verified=bool(row.email_verified),
        dialect_fields=dialect_fields_of(row.dialect_fields),
        service=bool(row.service),
        folder_id=row.folder_id,
    )


def username_key(username: str | None) -> str | None:
    """The form a username is unique and looked up by (see tables.accounts)."""
    return canonical_login(username) if username is not None else None


def account_values(account: NewAccount | ImportedAccount) -> dict[str, Any]:
    """The columns a new account and an imported one alike are given."""
    return {
        "email": account.email,
        "username": account.username,
        "username_key": username_key(account.username),
        "full_name": account.full_name,
        "orcid": account.orcid,
        "password_hash": account.password_hash,
        "secret": account.secret,
        "status": account.status.value,
        "superuser": account.superuser,
        "notifications_enabled": account.notifications_enabled,
        "created_at": epoch(account.created_at),
        "storage_mode": account.storage_mode.value,
        "email_verified": account.email_verified,
        "dialect_fields": {k: dict(v) for k, v in account.dialect_fields.items()} or None,
    }


def session_from_row(row: Row[Any]) -> Session:
    return Session(
        id=row.id,
        account_id=row.account_id,
        created_at=from_epoch(row.created_at),
        last_seen_at=from_epoch(row.last_seen_at),
        expires_at=from_epoch(row.expires_at),
        client_address=row.client_address,
        user_agent=row.user_agent,
        opened_by=row.opened_by,
        api_token=bool(row.api_token),
    )


class SqlAccountStore:
    def __init__(self, connection: AsyncConnection):
        self._db = connection

    async def _one(self, *where: Any) -> Account | None:
        row = (await self._db.execute(select(accounts).where(*where))).first()
        return account_from_row(row) if row else None

    async def by_id(self, account_id: int) -> Account | None:
        return await self._one(accounts.c.id == account_id)

    async def by_email(self, email: str) -> Account | None:
        return await self._one(accounts.c.email == email.lower())

    async def by_login(self, login: str) -> Account | None:
        if "@" in login:
            return await self.by_email(login)
        return await self._one(accounts.c.username_key == canonical_login(login))

    async def add(self, account: NewAccount) -> Account:
        values = {
            **account_values(account),
            "permissions": [],
            "deny_tags": [],
            "service": account.service,
        }
        try:
            # A savepoint keeps the outer transaction usable after a unique violation.
            async with self._db.begin_nested():
                result = await self._db.execute(
                    insert(accounts).values(**values).returning(accounts.c.id)
                )
                account_id = result.scalar_one()
        except IntegrityError:
            raise DuplicateAccount(await self._taken_field(account)) from None
        created = await self.by_id(account_id)
        assert created is not None
        return created

    async def _taken_field(self, account: NewAccount) -> str:
        if await self.by_email(account.email) is not None or account.username is None:
            return "email"
        return "username"

    async def list(self, after: int | None, limit: int) -> Sequence[Account]:
        query = select(accounts).order_by(accounts.c.id).limit(limit)
        if after is not None:
            query = query.where(accounts.c.id > after)
        return [account_from_row(row) for row in await self._db.execute(query)]

    async def service_accounts(self, after: int | None, limit: int) -> Sequence[Account]:
        query = (
            select(accounts)
            .where(accounts.c.service == true())
            .order_by(accounts.c.id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(accounts.c.id > after)
        return [account_from_row(row) for row in await self._db.execute(query)]

    async def remove(self, account_id: int) -> None:
        await self._db.execute(delete(accounts).where(accounts.c.id == account_id))

    async def _update(self, account_id: int, **values: Any) -> None:
        await self._db.execute(update(accounts).where(accounts.c.id == account_id).values(values))

    async def set_password_hash(self, account_id: int, password_hash: str) -> None:
        await self._update(account_id, password_hash=password_hash)

    async def replace_password_hash(self, account_id: int, old: str, new: str) -> bool:
        result = await self._db.execute(
            update(accounts)
            .where(accounts.c.id == account_id, accounts.c.password_hash == old)
            .values(password_hash=new)
        )
        return result.rowcount == 1

    async def set_username(self, account_id: int, username: str | None) -> None:
        """Raises DuplicateAccount("username") if another account's name folds to it."""
        try:
            async with self._db.begin_nested():
                await self._update(
                    account_id, username=username, username_key=username_key(username)
                )
        except IntegrityError:
            raise DuplicateAccount("username") from None

    async def set_orcid(self, account_id: int, orcid: str | None) -> None:
        await self._update(account_id, orcid=orcid)

    async def set_status(self, account_id: int, status: AccountStatus) -> None:
        await self._update(account_id, status=status.value)

    async def set_permissions(self, account_id: int, permissions: Sequence[Permission]) -> None:
        await self._update(account_id, permissions=permissions_json(permissions))

    async def set_email_verified(self, account_id: int, verified: bool) -> None:
        await self._update(account_id, email_verified=verified)

    async def set_superuser(self, account_id: int, superuser: bool) -> None:
        await self._update(account_id, superuser=superuser)

    async def set_email(self, account_id: int, email: str) -> None:
        """Raises DuplicateAccount("email") if another account has ``email``."""
        try:
            async with self._db.begin_nested():
                await self._update(account_id, email=email)
        except IntegrityError:
            raise DuplicateAccount("email") from None

    async def set_profile(
        self,
        account_id: int,
        *,
        email: str,
        full_name: str,
        dialect_fields: Mapping[str, Mapping[str, Any]],
    ) -> None:
        """Raises DuplicateAccount("email") if another account has ``email``."""
        try:
            async with self._db.begin_nested():
                await self._update(
                    account_id,
                    email=email,
                    full_name=full_name,
                    dialect_fields={k: dict(v) for k, v in dialect_fields.items()} or None,
                )
        except IntegrityError:
            raise DuplicateAccount("email") from None


INSERT_AUDIT = insert(audit_log)


class SqlSessionStore:
    def __init__(self, connection: AsyncConnection):
        self._db = connection

    async def remove_by_token_hash(self, token_hash: bytes) -> int | None:
        row = (
            await self._db.execute(
                delete(sessions)
                .where(sessions.c.token_hash == token_hash)
                .returning(sessions.c.account_id)
            )
        ).first()
        return row.account_id if row else None

    async def remove(self, account_id: int, session_id: str) -> bool:
        result = await self._db.execute(
            delete(sessions).where(sessions.c.id == session_id, sessions.c.account_id == account_id)
        )
        return result.rowcount > 0

    async def remove_all(self, account_id: int) -> int:
        result = await self._db.execute(delete(sessions).where(sessions.c.account_id == account_id))
        return result.rowcount

    async def list(
        self, account_id: int, after: Position | None = None, limit: int | None = None
    ) -> Sequence[Session]:
        query = select(sessions).where(sessions.c.account_id == account_id)
        rows = await self._db.execute(
            newest_first(query, sessions.c.created_at, sessions.c.id, after, limit)
        )
        return [session_from_row(row) for row in rows]

    async def purge_expired(self, now: datetime, idle_since: datetime, limit: int) -> int:
        lapsed = or_(
            sessions.c.expires_at <= epoch(now),
            and_(sessions.c.last_seen_at <= epoch(idle_since), sessions.c.api_token == false()),
        )
        return await delete_some(self._db, sessions, lapsed, limit)


class SqlKeyStore:
    def __init__(self, connection: AsyncConnection):
        self._db = connection

    async def replace(
        self,
        account_id: int,
        purpose: KeyPurpose,
        key_hash: bytes,
        created_at: datetime,
        expires_at: datetime,
        new_email: str | None = None,
    ) -> None:
        await self._db.execute(
            delete(one_time_keys).where(
                one_time_keys.c.account_id == account_id, one_time_keys.c.purpose == purpose.value
            )
        )
        await self._db.execute(
            insert(one_time_keys).values(
                key_hash=key_hash,
                account_id=account_id,
                purpose=purpose.value,
                created_at=epoch(created_at),
                expires_at=epoch(expires_at),
                new_email=new_email,
            )
        )

    @staticmethod
    def _live(key_hash: bytes, purposes: Sequence[KeyPurpose], now: datetime) -> Any:
        return and_(
            one_time_keys.c.key_hash == key_hash,
            one_time_keys.c.purpose.in_([p.value for p in purposes]),
            one_time_keys.c.expires_at > epoch(now),
        )

    async def consume(
        self, key_hash: bytes, purposes: Sequence[KeyPurpose], now: datetime
    ) -> UsedKey | None:
        # DELETE ... RETURNING: the row lock (PostgreSQL) or the write lock (SQLite) makes
        # the second of two racing uses find nothing.
        row = (
            await self._db.execute(
                delete(one_time_keys)
                .where(self._live(key_hash, purposes, now))
                .returning(
                    one_time_keys.c.account_id,
                    one_time_keys.c.purpose,
                    one_time_keys.c.new_email,
                )
            )
        ).first()
        return UsedKey(row.account_id, KeyPurpose(row.purpose), row.new_email) if row else None

    async def peek(
        self, key_hash: bytes, purposes: Sequence[KeyPurpose], now: datetime
    ) -> int | None:
        row = (
            await self._db.execute(
                select(one_time_keys.c.account_id).where(self._live(key_hash, purposes, now))
            )
        ).first()
        return row.account_id if row else None

    async def remove_all(self, account_id: int, purposes: Sequence[KeyPurpose]) -> int:
        result = await self._db.execute(
            delete(one_time_keys).where(
                one_time_keys.c.account_id == account_id,
                one_time_keys.c.purpose.in_([p.value for p in purposes]),
            )
        )
        return result.rowcount

    async def purge_expired(self, now: datetime, limit: int) -> int:
        lapsed = one_time_keys.c.expires_at <= epoch(now)
        return await delete_some(self._db, one_time_keys, lapsed, limit)


class SqlOutbox:
    def __init__(self, connection: AsyncConnection, sealer: Sealer):
        self._db = connection
        self._sealer = sealer

    async def add(self, notice: Notice, at: datetime) -> None:
        await self._db.execute(
            insert(mail_outbox).values(
                kind=notice.kind,
                recipient=notice.to,
                payload=self._sealer.seal(notice.values),
                created_at=epoch(at),
                attempts=0,
                next_attempt_at=epoch(at),
            )
        )


class SqlAuditStore:
    def __init__(self, connection: AsyncConnection):
        self._db = connection

    async def add(self, event: AuditEvent) -> None:
        await self._db.execute(
            INSERT_AUDIT,
            {
                "at": epoch(event.at),
                "kind": event.kind.value,
                "account_id": event.account_id,
                "subject": event.subject,
                "detail": event.detail,
                "actor_id": event.actor_id,
                "client_address": event.client_address,
                "user_agent": event.user_agent,
            },
        )

    async def purge_before(self, cutoff: datetime, limit: int) -> int:
        return await delete_some(self._db, audit_log, audit_log.c.at < epoch(cutoff), limit)

    async def list(
        self, account_id: int | None, since: datetime | None, before: int | None, limit: int
    ) -> Sequence[tuple[int, AuditEvent]]:
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if account_id is not None:
            query = query.where(audit_log.c.account_id == account_id)
        if since is not None:
            query = query.where(audit_log.c.at >= epoch(since))
        if before is not None:
            query = query.where(audit_log.c.id < before)
        return [
            (
                row.id,
                AuditEvent(
                    kind=AuditKind(row.kind),
                    at=from_epoch(row.at),
                    account_id=row.account_id,
                    subject=row.subject,
                    detail=row.detail,
                    actor_id=row.actor_id,
                    client_address=row.client_address,
                    user_agent=row.user_agent,
                ),
            )
            for row in await self._db.execute(query)
        ]


class SqlUnitOfWork:
    """One connection, one transaction: commits on a normal exit, rolls back on an error."""

    accounts: SqlAccountStore
    sessions: SqlSessionStore
    keys: SqlKeyStore
    outbox: SqlOutbox
    audit: SqlAuditStore
    tokens: SqlTokenStore

    def __init__(self, engine: AsyncEngine, sealer: Sealer, *, read_only: bool = False):
        self._engine = engine
        self._sealer = sealer
        self._read_only = read_only
        self._connection: AsyncConnection | None = None

    async def __aenter__(self) -> SqlUnitOfWork:
        self._connection = await self._engine.connect()
        if self._read_only:
            await self._connection.execution_options(**READ_ONLY)
        await self._connection.begin()
        self.accounts = SqlAccountStore(self._connection)
        self.sessions = SqlSessionStore(self._connection)
        self.keys = SqlKeyStore(self._connection)
        self.outbox = SqlOutbox(self._connection, self._sealer)
        self.audit = SqlAuditStore(self._connection)
        self.tokens = SqlTokenStore(self._connection)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._connection is not None
        try:
            if exc_type is None:
                await self._connection.commit()
            else:
                await self._connection.rollback()
        finally:
            await self._connection.close()
            self._connection = None
