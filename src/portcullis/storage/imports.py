"""The import's writes: a batch of accounts, their keys, sessions and audit, in one go.

Bulk statements (one INSERT of many rows per table) rather than the unit of work's row
at a time: a hundred thousand accounts come in within the bench's two minutes so.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from portcullis.core.imports import Arrival, Present
from portcullis.core.models import AuditKind
from portcullis.storage.stores import account_values, epoch, permissions_json
from portcullis.storage.tables import accounts, audit_log, one_time_keys, sessions


def _account_row(arrival: Arrival) -> dict[str, Any]:
    account = arrival.account
    return {
        **account_values(account),
        "permissions": permissions_json(account.permissions),
        "deny_tags": [],
        "last_activity_at": epoch(account.last_activity_at) if account.last_activity_at else None,
        "folder_id": account.folder_id,
        "imported_from": account.source_ref,
    }


def _dependants(
    arrival: Arrival, account_id: int, at: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    keys = [
        {
            "key_hash": key.key_hash,
            "account_id": account_id,
            "purpose": key.purpose.value,
            "created_at": epoch(at),
            "expires_at": epoch(key.expires_at),
        }
        for key in arrival.keys
    ]
    tokens = [
        {
            "id": token.session_id,
            "token_hash": token.token_hash,
            "account_id": account_id,
            "created_at": epoch(at),
            "last_seen_at": epoch(at),
            "expires_at": epoch(token.expires_at),
            "user_agent": "imported API token",
            "api_token": True,
        }
        for token in arrival.tokens
    ]
    event = {
        "at": epoch(at),
        "kind": AuditKind.IMPORTED.value,
        "account_id": account_id,
        "subject": arrival.account.email,
        "detail": arrival.account.source_ref,
    }
    return keys, tokens, event


class SqlImportStore:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine

    async def present(self) -> Present:
        columns = (accounts.c.imported_from, accounts.c.email, accounts.c.username_key)
        found: tuple[set[str], set[str], set[str]] = (set(), set(), set())
        async with self._engine.connect() as connection:
            result = await connection.stream(select(*columns))
            async for row in result:
                for values, value in zip(found, row, strict=True):
                    if value is not None:
                        values.add(value)
        return Present(*found)

    async def add(self, arrivals: Sequence[Arrival], at: datetime) -> list[str]:
        if not arrivals:
            return []
        try:
            async with self._engine.begin() as connection:
                await self._insert(connection, arrivals, at)
            return []
        except IntegrityError:
            # Someone took an address or a name since we looked: one row at a time, so
            # only the rows that clash stay out.
            return await self._one_by_one(arrivals, at)

    async def _one_by_one(self, arrivals: Sequence[Arrival], at: datetime) -> list[str]:
        left_out = []
        async with self._engine.begin() as connection:
            for arrival in arrivals:
                try:
                    async with connection.begin_nested():
                        await self._insert(connection, [arrival], at)
                except IntegrityError:
                    left_out.append(arrival.account.source_ref)
        return left_out

    @staticmethod
    async def _insert(
        connection: AsyncConnection, arrivals: Sequence[Arrival], at: datetime
    ) -> None:
        rows = [_account_row(arrival) for arrival in arrivals]
        result = await connection.execute(
            insert(accounts).returning(accounts.c.id, accounts.c.imported_from), rows
        )
        ids = {ref: account_id for account_id, ref in result}
        keys, tokens, events = [], [], []
        for arrival in arrivals:
            own_keys, own_tokens, event = _dependants(arrival, ids[arrival.account.source_ref], at)
            keys += own_keys
            tokens += own_tokens
            events.append(event)
        for table, values in ((one_time_keys, keys), (sessions, tokens), (audit_log, events)):
            if values:
                await connection.execute(insert(table), values)
