"""The ``portcullis`` command: serve, migrate, and manage users."""

from __future__ import annotations

import asyncio
import getpass
import logging.config
import os
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Any, TypeVar

import asyncpg
import orjson
import typer
from alembic.util import CommandError
from pydantic import ValidationError
from pydantic_settings import SettingsError
from sqlalchemy.exc import SQLAlchemyError

from portcullis import worker_listeners
from portcullis.app import create_app
from portcullis.attempts.memory import MemoryAttempts
from portcullis.attempts.remote import served_by
from portcullis.config import DEFAULT_INSTANCE, Settings
from portcullis.console.access import access_commands
from portcullis.console.pages import CURSOR, LIMIT, say_next_page, show_pages
from portcullis.console.tables import show
from portcullis.console.words import database_problem, settings_problems, settings_source_problem
from portcullis.core.errors import PortcullisError
from portcullis.core.models import (
    AccessType,
    Account,
    LinkTarget,
    Permission,
    Session,
    StorageMode,
)
from portcullis.core.paging import MAX_LIMIT, Page
from portcullis.core.passwords import HASHING_THREAD_PREFIX
from portcullis.hash_service import HASH_SERVICE_SOCKET, HashService
from portcullis.http.biostudies_admin import parse_since
from portcullis.http.biostudies_views import audit_view
from portcullis.http.contract.served import ApiDocs
from portcullis.importers import cli as importers_cli
from portcullis.observability import startup
from portcullis.observability.logs import log_config
from portcullis.observability.meters import fields, meters_for
from portcullis.observability.multiprocess import metrics_directory
from portcullis.services import Services, build_services, local_hashing, lockout_policy
from portcullis.storage import schema
from portcullis.storage.database import DatabaseUrl

T = TypeVar("T")
log = logging.getLogger("portcullis")

SETTINGS_HELP = (
    "Settings come from PORTCULLIS_* environment variables and a .env file in the "
    "directory you run it from. Data (the SQLite database, the mail outbox, the secret "
    "key) lives in PORTCULLIS_DATA_DIR, ./var by default: run every command from the "
    "same directory, or set PORTCULLIS_DATA_DIR."
)
app = typer.Typer(
    help="Portcullis: accounts and sessions for research data portals.",
    epilog=SETTINGS_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain text: no boxes or markup in a terminal, a pipe or a log.
    rich_markup_mode=None,
    add_completion=False,
)
users = typer.Typer(
    help="Manage accounts.", epilog=SETTINGS_HELP, no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(users, name="user")


def _version(shown: bool) -> None:
    if shown:
        typer.echo(f"portcullis {version('portcullis')}")
        raise typer.Exit()


@app.callback()
def _options(
    _: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Portcullis: accounts and sessions for research data portals."""


def _database(settings: Settings) -> DatabaseUrl:
    return DatabaseUrl.parse(settings.resolved_database_url)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


@contextmanager
def _using(database: DatabaseUrl) -> Iterator[None]:
    """Problems reaching or reading the database, said as where it is and what is wrong."""
    try:
        yield
    except (OSError, SQLAlchemyError, asyncpg.PostgresError) as error:
        raise _fail(database_problem(error, database)) from None


def _existing_data_dir(settings: Settings) -> None:
    """Refuse to make a new data directory from a command that only reads or edits data.

    ./var is relative to where a command runs: run from elsewhere, a command would
    quietly make a second database the service never reads. ``serve`` and ``migrate``
    make it (that is what they are for), and so does any command given the directory
    by PORTCULLIS_DATA_DIR.
    """
    needed = not (settings.database_url and settings.secret_key and settings.mail_url)
    if needed and "data_dir" not in settings.model_fields_set and not settings.data_dir.exists():
        raise _fail(
            f"no data directory at {settings.data_dir.resolve()}: run this where the "
            "service runs (its data is in ./var there), or set PORTCULLIS_DATA_DIR"
        )


def _known_schema(database: DatabaseUrl) -> schema.SchemaState:
    """The schema's state; refused if a newer release made it (after a roll-back)."""
    state = schema.state(database)
    if not state.known:
        raise _fail(
            f"the database schema is at revision {state.revision}, which this version of "
            "Portcullis does not know: a newer version made it; run that one (or restore a "
            "backup)"
        )
    return state


def _prepare_database(settings: Settings) -> schema.SchemaState:
    """The embedded SQLite default migrates itself; PostgreSQL is migrated deliberately.

    Returns the schema's state from before (``_say_migrated`` tells of a migration).
    """
    database = _database(settings)
    with _using(database):
        state = _known_schema(database)
        if database.is_sqlite:
            schema.upgrade(database)
    if not database.is_sqlite and not state.at_head:
        raise _fail(
            "the database schema is behind this version of Portcullis: "
            "run `portcullis migrate` first"
        )
    return state


def _say_migrated(database: DatabaseUrl, state: schema.SchemaState) -> None:
    if not state.at_head:
        head = schema.head_revision(database)
        log.info(
            "schema migrated from %s to %s",
            state.revision,
            head,
            extra=fields(event="migrated", from_revision=state.revision, to_revision=head),
        )


def _prepare_existing(settings: Settings) -> schema.SchemaState:
    _existing_data_dir(settings)
    return _prepare_database(settings)


importers_cli.use_preparation(_prepare_existing)
app.add_typer(importers_cli.importing, name="import")
app.command("export")(importers_cli.export)


def server_options() -> dict[str, Any]:
    """uvicorn's settings for ``serve``; the benchmark's ceiling runs under the same ones."""
    return {
        "access_log": False,
        "proxy_headers": False,  # the client address is decided by PORTCULLIS_TRUSTED_PROXIES
        "server_header": False,
    }


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Run the service under uvicorn."""
    settings = Settings()
    logging_config = log_config(settings.log_format)
    logging.config.dictConfig(logging_config)
    with metrics_directory(settings.metrics_enabled):
        before = _prepare_database(settings)
        settings.server_secret()  # made now, once, rather than raced for by the workers
        # Built once here so that a bad mail or Redis URL stops the command with one
        # line, not each worker with a traceback: so nothing is logged before it.
        redis_reachable = asyncio.run(_try_services(settings))
        _say_migrated(_database(settings), before)
        startup.report(settings, startup.Start(host, port, workers, redis_reachable))
        _run_workers(settings, host, port, workers, logging_config)


def _run_workers(
    settings: Settings, host: str, port: int, workers: int, logging_config: dict[str, Any]
) -> None:
    # Several workers send their hashes to one queue here, in the process that supervises
    # them (hash_service.py says why); one worker hashes in its own process. Without Redis
    # they keep the lockout's counts here too, so that they spend one budget, not N.
    hash_service = (
        HashService(
            local_hashing(settings, meters_for(settings.metrics_enabled)),
            served_by(MemoryAttempts(lockout_policy(settings))),
        )
        if workers > 1
        else None
    )
    if hash_service is not None:
        os.environ[HASH_SERVICE_SOCKET] = str(hash_service.path)  # the workers inherit it
    try:
        worker_listeners.serve(
            "portcullis.app:create_app",
            host,
            port,
            workers,
            factory=True,
            log_config=logging_config,
            **server_options(),
        )
    finally:
        if hash_service is not None:
            hash_service.close()
            del os.environ[HASH_SERVICE_SOCKET]


async def _try_services(settings: Settings) -> bool | None:
    """Build the services once and close them; whether Redis answers (None: none set)."""
    services = build_services(settings)
    try:
        if not settings.redis_url:
            return None
        try:
            await services.limits_store.ping()
        except Exception:  # unreachable is a warning at start, not a refusal to start
            return False
        return True
    finally:
        await services.close()


def _hashing_threads_gone(timeout: float = 5.0) -> None:
    """Wait for the hashing threads that ``Services.close`` asked to stop. On its way out
    each still takes its gate, a slot file in the data directory: removing the folder
    under it failed now and then with "Directory not empty"."""
    deadline = time.monotonic() + timeout
    for thread in threading.enumerate():
        if thread.name.startswith(HASHING_THREAD_PREFIX):
            thread.join(max(0.0, deadline - time.monotonic()))


@app.command()
def openapi() -> None:
    """Print the OpenAPI 3.1 document of both dialects (what /openapi.json serves)."""
    settings = Settings()

    async def main(scratch: str) -> dict[str, Any]:
        # The routes are made of services; these touch nothing of the deployment's (no
        # database, no secret file): the document needs only the public URL and cookie.
        apart = settings.model_copy(
            update={"data_dir": Path(scratch), "database_url": "", "secret_key": "-"}
        )
        services = build_services(apart)
        try:
            return ApiDocs(settings, create_app(apart, services).routes).document()
        finally:
            await services.close()

    with tempfile.TemporaryDirectory(prefix="portcullis-openapi-") as scratch:
        document = asyncio.run(main(scratch))
        _hashing_threads_gone()
    typer.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (Alembic upgrade to head)."""
    settings = Settings()
    logging.config.dictConfig(log_config(settings.log_format))
    database = _database(settings)
    with _using(database):
        before = _known_schema(database)
        schema.upgrade(database)
    _say_migrated(database, before)
    typer.echo(f"schema at {schema.head_revision(database)}")


@app.command()
def purge() -> None:
    """Delete what has lapsed now: expired and idle sessions, expired keys and access
    tokens, audit events older than PORTCULLIS_AUDIT_RETENTION_DAYS. serve does this
    every ten minutes; this is for a cron job, or before a backup."""

    async def purge_now(services: Services) -> str:
        return (await services.housekeeping.purge()).summary()

    typer.echo(_run(purge_now))


def _run(action: Callable[[Services], Awaitable[T]]) -> T:
    settings = Settings()
    _existing_data_dir(settings)
    _prepare_database(settings)

    async def main() -> T:
        services = build_services(settings)
        try:
            return await action(services)
        finally:
            await services.close()

    try:
        return asyncio.run(main())
    except PortcullisError as error:
        problems = getattr(error, "problems", None)
        # Several problems (a password's failed rules) one a line, each its own error.
        raise _fail("\nerror: ".join(problems) if problems else error.message) from None


token_commands, service_commands = access_commands(lambda action: _run(action))
app.add_typer(token_commands, name="token")
app.add_typer(service_commands, name="service")


def _read_password(from_stdin: bool, confirm: bool = True) -> str:
    if from_stdin:
        try:
            password = sys.stdin.buffer.readline().decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise _fail("the password on standard input is not UTF-8 text") from None
        if not password:
            raise _fail("no password on standard input")
        return password
    if not sys.stdin.isatty():
        raise _fail("no terminal to ask for the password: pass --password-stdin and pipe it")
    try:
        with warnings.catch_warnings():
            # Without a terminal getpass reads stdin and warns that it may echo: it is
            # what we want there (scripts), so its warning is no news to the operator.
            warnings.simplefilter("ignore", getpass.GetPassWarning)
            password = getpass.getpass("Password: ")
            if confirm and getpass.getpass("Again: ") != password:
                raise _fail("the passwords differ")
    except EOFError:
        raise _fail("no password given: type it at the prompt, or pass --password-stdin") from None
    return password


# What an operator's configuration or environment can get wrong: said in one line each.
OPERATOR_ERRORS = (
    ValueError,  # a malformed URL or setting
    OSError,  # a file or folder, a refused connection
    SQLAlchemyError,  # the database: missing, refusing, not ours
    asyncpg.PostgresError,
    CommandError,  # Alembic
    LookupError,  # an import's source lacks a table
    ImportError,  # an import's driver is not installed (the `import` extra)
)


def main() -> None:
    """The ``portcullis`` command: configuration and connection problems as one line.

    Other exceptions keep their traceback: they are ours to fix, not the operator's.
    """
    # Only the workers `serve` starts may send their hashes elsewhere: a value left in the
    # environment would otherwise send every command's hashes to a socket long gone.
    os.environ.pop(HASH_SERVICE_SOCKET, None)
    try:
        app()
    except ValidationError as error:
        for problem in settings_problems(error):
            typer.echo(f"error: {problem}", err=True)
        sys.exit(1)
    except SettingsError as error:
        typer.echo(f"error: {settings_source_problem(error)}", err=True)
        sys.exit(1)
    except OPERATOR_ERRORS as error:
        typer.echo(f"error: {type(error).__name__}: {error}".splitlines()[0], err=True)
        sys.exit(1)


def _permission(permission: Permission) -> str:
    if permission.access is AccessType.READ:
        return permission.tag
    return f"{permission.tag}:{permission.access.value}"


def _describe(account: Account) -> str:
    flags = [account.status.value] + (["superuser"] if account.superuser else [])
    # READ tags as they are (what the profile allows); other access types after a colon.
    tags = ",".join(_permission(p) for p in account.permissions) or "-"
    fields = [account.email, account.username or "-", account.full_name, " ".join(flags), tags]
    return "\t".join(fields)


EMAIL = Annotated[str, typer.Argument(metavar="EMAIL", help="The account's e-mail address.")]
PASSWORD_STDIN = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help="Read the password from the first line of standard input."
    ),
]
AS_JSON = Annotated[bool, typer.Option("--json", help="One JSON object a line, no header.")]


@users.command("add")
def user_add(
    email: EMAIL,
    username: Annotated[str | None, typer.Option(help="A login name beside the e-mail.")] = None,
    name: Annotated[str, typer.Option(help="Full name.")] = "",
    superuser: Annotated[bool, typer.Option("--superuser", help="Make a superuser.")] = False,
    inactive: Annotated[
        bool, typer.Option("--inactive", help="Leave it pending until activated by mail.")
    ] = False,
    storage_mode: Annotated[
        StorageMode | None,
        typer.Option(help="Where the user's files live (default PORTCULLIS_DEFAULT_STORAGE_MODE)."),
    ] = None,
    password_stdin: PASSWORD_STDIN = False,
) -> None:
    """Create an account; the password is asked for at the terminal unless --password-stdin."""
    password = _read_password(password_stdin)
    account = _run(
        lambda s: s.admin.add_user(
            email,
            password,
            username=username,
            full_name=name,
            superuser=superuser,
            active=not inactive,
            storage_mode=storage_mode,
        )
    )
    typer.echo(f"created {_describe(account)}")


ACCOUNT_COLUMNS = ("email", "username", "name", "status", "superuser", "verified", "tags")


def _account_record(a: Account) -> dict[str, Any]:
    return {
        "email": a.email,
        "username": a.username,
        "name": a.full_name,
        "status": a.status.value,
        "superuser": a.superuser,
        "verified": a.email_verified,
        "tags": [_permission(p) for p in a.permissions],
    }


@users.command("list")
def user_list(as_json: AS_JSON = False, limit: LIMIT = None, cursor: CURSOR = None) -> None:
    """List accounts by id: e-mail, username, name, status, superuser, verified, tags."""

    def show_accounts(found: Sequence[Account], first: bool) -> None:
        records = (_account_record(a) for a in found)
        show(ACCOUNT_COLUMNS, records, as_json=as_json, header_row=first)

    async def list_pages(services: Services) -> str | None:
        return await show_pages(services.admin.list_users, limit, cursor, show_accounts)

    say_next_page(_run(list_pages))


@users.command("set-password")
def user_set_password(email: EMAIL, password_stdin: PASSWORD_STDIN = False) -> None:
    """Set an account's password; its sessions end."""
    password = _read_password(password_stdin)
    account = _run(lambda s: s.admin.set_password(email, password))
    typer.echo(f"password set for {account.email}; its sessions were ended")


@users.command("rename")
def user_rename(email: EMAIL, username: Annotated[str, typer.Argument(metavar="USERNAME")]) -> None:
    """Give an account another username (unique under case folding and NFKC)."""
    _run(lambda s: s.admin.rename(email, username))
    typer.echo(f"{email} is now {username}")


ACCESS_OPTION = typer.Option("--access", help="The access type.", case_sensitive=False)


@users.command("grant")
def user_grant(
    email: EMAIL,
    tag: Annotated[str, typer.Argument(metavar="TAG")],
    access: Annotated[AccessType, ACCESS_OPTION] = AccessType.READ,
) -> None:
    """Grant an access type on a tag (READ tags are the profile's ``allow``)."""
    if _run(lambda s: s.admin.grant(email, tag, access)):
        typer.echo(f"granted {access.value} on {tag} to {email}")
    else:
        typer.echo(f"{email} has {access.value} on {tag} already; nothing changed")


@users.command("revoke")
def user_revoke(
    email: EMAIL,
    tag: Annotated[str, typer.Argument(metavar="TAG")],
    access: Annotated[AccessType, ACCESS_OPTION] = AccessType.READ,
) -> None:
    """Take an access type on a tag away."""
    _run(lambda s: s.admin.revoke(email, tag, access))
    typer.echo(f"revoked {access.value} on {tag} from {email}")


@users.command("deactivate")
def user_deactivate(email: EMAIL) -> None:
    """Disable an account and end its sessions."""
    account = _run(lambda s: s.admin.deactivate(email))
    typer.echo(f"deactivated {account.email}")


SESSION_COLUMNS = ("id", "created", "last_active", "address", "user_agent")


def _session_record(session: Session) -> dict[str, Any]:
    return {
        "id": session.id,
        "created": session.created_at.isoformat(),
        "last_active": session.last_seen_at.isoformat(),
        "address": session.client_address,
        "user_agent": session.user_agent,
    }


@users.command("sessions")
def user_sessions(
    email: EMAIL, as_json: AS_JSON = False, limit: LIMIT = None, cursor: CURSOR = None
) -> None:
    """List an account's live sessions, newest first: id, created, last activity,
    address, browser."""

    def show_sessions(found: Sequence[Session], first: bool) -> None:
        records = (_session_record(session) for session in found)
        show(SESSION_COLUMNS, records, as_json=as_json, header_row=first)

    async def list_pages(services: Services) -> str | None:
        async def read(size: int, after: str | None) -> Page[Session]:
            return await services.admin.sessions_of(email, size, after)

        return await show_pages(read, limit, cursor, show_sessions)

    say_next_page(_run(list_pages))


@users.command("reactivate")
def user_reactivate(email: EMAIL) -> None:
    """Let a deactivated account sign in again."""
    account = _run(lambda s: s.admin.reactivate(email))
    typer.echo(f"reactivated {account.email}")


@users.command("delete")
def user_delete(
    email: EMAIL,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask: delete at once.")] = False,
) -> None:
    """Delete an account: its sessions, tokens and keys go; the audit keeps its events;
    the address is told."""
    if not yes:
        if not sys.stdin.isatty():
            raise _fail("no terminal to confirm the deletion: pass --yes")
        typer.confirm(f"Delete {email} and everything it holds?", abort=True)

    async def delete(services: Services) -> None:
        await services.deletion.delete_by_operator(await services.admin.find(email))

    _run(delete)
    typer.echo(f"deleted {email}; the audit keeps its events")


@users.command("promote")
def user_promote(email: EMAIL) -> None:
    """Make an account a superuser."""
    changed = _run(lambda s: s.admin.set_superuser(email, True))
    typer.echo(f"{email} is a superuser{'' if changed else ' already; nothing changed'}")


@users.command("demote")
def user_demote(email: EMAIL) -> None:
    """Make a superuser an ordinary account again."""
    changed = _run(lambda s: s.admin.set_superuser(email, False))
    typer.echo(f"{email} is no superuser{'' if changed else ' already; nothing changed'}")


@users.command("set-email")
def user_set_email(
    email: EMAIL,
    new_email: Annotated[str, typer.Argument(metavar="NEW_EMAIL", help="The address to use.")],
    verified: Annotated[
        bool,
        typer.Option("--verified", help="Take it at once: you vouch for the address."),
    ] = False,
) -> None:
    """Change an account's e-mail: a link goes to the new address, which the account takes
    once the link is opened (at once with --verified). The old address is told."""
    if verified:
        _run(lambda s: s.admin.set_email(email, new_email))
        typer.echo(f"{email} is now {new_email.strip().lower()}")
        return

    async def mail_the_link(services: Services) -> bool:
        account = await services.admin.find(email)
        target = LinkTarget(DEFAULT_INSTANCE, "activate")
        return await services.email_changes.request(account, new_email, target)

    if _run(mail_the_link):
        typer.echo(f"a link went to {new_email}; {email} stays as it is until it is opened")
    else:
        typer.echo(f"{email} has that address already; nothing changed")


@users.command("logout-all")
def user_logout_all(email: EMAIL) -> None:
    """End every session of an account ("log out everywhere")."""
    ended = _run(lambda s: s.admin.logout_everywhere(email))
    typer.echo(f"ended {ended} session(s) of {email}")


@app.command()
def audit(
    user: Annotated[str | None, typer.Option(help="Only this account's events.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only events from this ISO date or date-time (UTC).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=MAX_LIMIT, help="At most this many.")] = 100,
    cursor: CURSOR = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
) -> None:
    """Show the audit trail, newest first."""
    try:
        start = parse_since(since)
    except PortcullisError:
        raise _fail(f"--since: not an ISO date or date-time: {since}") from None
    events = _run(lambda s: s.audit.read(None, user, start, limit, cursor))
    for event in events.items:
        if as_json:
            typer.echo(orjson.dumps(audit_view(event)).decode())
        else:
            fields = [
                event.at.isoformat(),
                event.kind.value,
                event.subject or "-",
                event.detail or "-",
                event.client_address or "-",
                event.user_agent or "-",
            ]
            typer.echo("\t".join(fields))
    say_next_page(events.next)
