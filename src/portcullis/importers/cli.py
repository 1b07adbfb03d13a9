"""``portcullis import <source>`` and ``portcullis export``: the operator's side of a move."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from portcullis.config import Settings
from portcullis.core.imports import (
    BATCH_SIZE,
    ImportedAccount,
    Importer,
    ImportPolicy,
    ImportSummary,
)
from portcullis.core.tokens import Hasher
from portcullis.importers import biostudies, portcullis, thr, thr_perl
from portcullis.services import build_services
from portcullis.storage.imports import SqlImportStore

importing = typer.Typer(
    help="Bring accounts from another service.", no_args_is_help=True, rich_markup_mode=None
)

DRY_RUN = typer.Option("--dry-run", help="Say what would change; change nothing.")
EXPORT_BATCH = 1000  # accounts read a transaction by export
BATCH = typer.Option(min=1, max=10_000, help="Accounts per transaction.")
SALT = typer.Option(
    envvar="PORTCULLIS_IMPORT_SALT",
    help="The Perl registry's password salt (its configuration's pre_salt); from the "
    "environment, it stays out of the process list.",
)
Prepare = Callable[[Settings], object]
_prepare: list[Prepare] = []


def use_preparation(prepare: Prepare) -> None:
    """How the database is made ready (cli.py's rule: SQLite migrates itself)."""
    _prepare[:] = [prepare]


@contextmanager
def _progress(total: int) -> Iterator[Callable[[int], None]]:
    if not sys.stderr.isatty():
        yield lambda _: None
        return
    with typer.progressbar(length=total, label="importing", file=sys.stderr) as bar:
        yield bar.update


def run_import(source: str, accounts: Sequence[ImportedAccount], dry_run: bool, batch: int) -> None:
    """Import ``accounts`` into the configured database and print the summary."""
    settings = Settings()
    for prepare in _prepare:
        prepare(settings)
    summary = ImportSummary(source=source, dry_run=dry_run)

    async def main() -> None:
        services = build_services(settings)
        policy = ImportPolicy(
            key_lifetime=timedelta(seconds=settings.import_key_lifetime_seconds),
            token_lifetime=timedelta(seconds=settings.import_token_lifetime_seconds),
            batch_size=batch,
        )
        importer = Importer(SqlImportStore(services.engine), Hasher(services.server_secret), policy)
        try:
            with _progress(len(accounts)) as progress:
                await importer.run(accounts, summary, datetime.now(UTC), progress)
        finally:
            await services.close()

    asyncio.run(main())
    for ref, reason in summary.refusals:
        typer.echo(f"skipped {ref}: {reason}", err=True)
    for line in summary.lines():
        typer.echo(line)


def _now() -> datetime:
    return datetime.now(UTC)


@importing.command("biostudies")
def import_biostudies(
    url: Annotated[str, typer.Argument(help="mysql://user:password@host/database")],
    dry_run: Annotated[bool, DRY_RUN] = False,
    batch_size: Annotated[int, BATCH] = BATCH_SIZE,
) -> None:
    """BioStudies' users, access tags and permissions, secrets and folder ids."""
    run_import(biostudies.SOURCE, biostudies.read(url, _now()), dry_run, batch_size)


@importing.command("thr")
def import_thr(
    url_or_file: Annotated[str, typer.Argument(help="mysql://…, a SQLite file, or dumpdata JSON")],
    salt: Annotated[str | None, SALT] = None,
    dry_run: Annotated[bool, DRY_RUN] = False,
    batch_size: Annotated[int, BATCH] = BATCH_SIZE,
) -> None:
    """The Django Track Hub Registry's users and API tokens (users_customuser, authtoken_token).

    With --salt, rows the registry carried over from its Perl days keep their password.
    """
    run_import(thr.SOURCE, thr.read(url_or_file, _now(), salt), dry_run, batch_size)


@importing.command("thr-perl")
def import_thr_perl(
    url: Annotated[str, typer.Argument(help="mysql://… or a SQLite file")],
    salt: Annotated[str, SALT],
    dry_run: Annotated[bool, DRY_RUN] = False,
    batch_size: Annotated[int, BATCH] = BATCH_SIZE,
) -> None:
    """The Perl Track Hub Registry's users, roles and API keys."""
    run_import(thr_perl.SOURCE, thr_perl.read(url, salt, _now()), dry_run, batch_size)


@importing.command("portcullis")
def import_portcullis(
    file: Annotated[Path, typer.Argument(help="What `portcullis export` wrote (JSON lines).")],
    dry_run: Annotated[bool, DRY_RUN] = False,
    batch_size: Annotated[int, BATCH] = BATCH_SIZE,
) -> None:
    """Accounts another Portcullis exported."""
    run_import(portcullis.SOURCE, portcullis.read(file, _now()), dry_run, batch_size)


def export(
    with_hashes: Annotated[
        bool,
        typer.Option("--with-hashes", help="Include password hashes and folder secrets."),
    ] = False,
) -> None:
    """Every account as JSON lines on stdout: what `portcullis import portcullis` reads."""
    settings = Settings()
    for prepare in _prepare:
        prepare(settings)

    async def main() -> None:
        services = build_services(settings)
        try:
            after: int | None = None
            while True:  # a batch a transaction: never every account in memory at once
                async with services.unit_of_work(read_only=True) as uow:
                    batch = await uow.accounts.list(after, EXPORT_BATCH)
                for account in batch:
                    typer.echo(portcullis.line_of(account, with_hashes))
                if len(batch) < EXPORT_BATCH:
                    break
                after = batch[-1].id
        finally:
            await services.close()

    asyncio.run(main())
