"""The import's store: a batch stands or falls together, except for rows taken meanwhile."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from portcullis.config import Settings
from portcullis.core.imports import ImportedAccount, Importer, ImportPolicy, ImportSummary
from portcullis.core.models import AccountStatus
from portcullis.core.tokens import Hasher
from portcullis.services import build_services
from portcullis.storage.imports import SqlImportStore
from tests.support import add_account, audit_rows, stored_account


def row(n: int) -> ImportedAccount:
    return ImportedAccount(
        source_ref=f"test:{n}",
        email=f"user{n}@example.org",
        username=f"user{n}",
        full_name=f"User {n}",
        password_hash=None,
        status=AccountStatus.ACTIVE,
        created_at=datetime(2020, 1, 1, tzinfo=UTC),
    )


def test_an_address_taken_while_the_import_runs_is_left_out_alone(settings: Settings) -> None:
    add_account(settings, "other@example.org", username="USER4")  # user4, once folded

    async def run() -> ImportSummary:
        services = build_services(settings)
        store = SqlImportStore(services.engine)
        policy = ImportPolicy(timedelta(days=1), timedelta(days=1), batch_size=10)
        importer = Importer(store, Hasher(b"k"), policy)
        present = store.present

        async def then_someone_registers():  # type: ignore[no-untyped-def]
            found = await present()
            # A registration lands after the import read what was here.
            await services.admin.add_user("user2@example.org", None, full_name="Quick")
            return found

        store.present = then_someone_registers  # type: ignore[method-assign]
        try:
            summary = ImportSummary(source="test")
            return await importer.run([row(n) for n in range(1, 5)], summary, datetime.now(UTC))
        finally:
            await services.close()

    summary = asyncio.run(run())
    assert summary.imported == 2
    assert summary.skipped == {"taken_during_import": 1, "username_already_here": 1}
    assert stored_account(settings, "user2@example.org").full_name == "Quick"
    assert stored_account(settings, "user3@example.org").username == "user3"
    imported = [r["detail"] for r in audit_rows(settings) if r["kind"] == "imported"]
    assert sorted(imported) == ["test:1", "test:3"]
