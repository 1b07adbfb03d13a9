"""The ``portcullis`` command: serve, migrate, and manage users."""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
import warnings
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import asyncpg
import orjson
import typer
import uvicorn
from alembic.util import CommandError
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from portcullis.attempts.memory import MemoryAttempts
from portcullis.attempts.remote import served_by
from portcullis.cli_access import access_commands
from portcullis.config import Settings
from portcullis.core.audit import MAX_READ
from portcullis.core.errors import PortcullisError
from portcullis.core.models import AccessType, Account, Permission, StorageMode
from portcullis.hash_service import HASH_SERVICE_SOCKET, HashService
from portcullis.http.biostudies_admin import parse_since
from portcullis.http.biostudies_views import audit_view
from portcullis.services import Services, build_services, local_hashing, lockout_policy
from portcullis.storage import schema
from portcullis.storage.database import DatabaseUrl

T = TypeVar("T")

app = typer.Typer(
    help="Portcullis: accounts and sessions for research data portals.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
users = typer.Typer(help="Manage accounts.", no_args_is_help=True)
app.add_typer(users, name="user")


def _database(settings: Settings) -> DatabaseUrl:
    return DatabaseUrl.parse(settings.resolved_database_url)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


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


def _prepare_database(settings: Settings) -> None:
    """The embedded SQLite default migrates itself; PostgreSQL is migrated deliberately."""
    database = _database(settings)
    state = _known_schema(database)
    if database.is_sqlite:
        schema.upgrade(database)
    elif not state.at_head:
        raise _fail(
            "the database schema is behind this version of Portcullis: "
            "run `portcullis migrate` first"
        )


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
    _prepare_database(settings)
    settings.server_secret()  # made now, once, rather than raced for by the workers
    # Built once here so that a bad mail or Redis URL stops the command with one line,
    # not each worker with a traceback.
    asyncio.run(build_services(settings).close())
    # Several workers send their hashes to one queue here, in the process that supervises
    # them (hash_service.py says why); one worker hashes in its own process. Without Redis
    # they keep the lockout's counts here too, so that they spend one budget, not N.
    hash_service = (
        HashService(local_hashing(settings), served_by(MemoryAttempts(lockout_policy(settings))))
        if workers > 1
        else None
    )
    if hash_service is not None:
        os.environ[HASH_SERVICE_SOCKET] = str(hash_service.path)  # the workers inherit it
    try:
        uvicorn.run(
            "portcullis.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            **server_options(),
        )
    finally:
        if hash_service is not None:
            hash_service.close()
            del os.environ[HASH_SERVICE_SOCKET]


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (Alembic upgrade to head)."""
    database = _database(Settings())
    _known_schema(database)
    schema.upgrade(database)
    typer.echo(f"schema at {schema.head_revision(database)}")


def _run(action: Callable[[Services], Awaitable[T]]) -> T:
    settings = Settings()
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
        raise _fail("; ".join(problems) if problems else error.message) from None


token_commands, service_commands = access_commands(lambda action: _run(action))
app.add_typer(token_commands, name="token")
app.add_typer(service_commands, name="service")


def _read_password(from_stdin: bool, confirm: bool = True) -> str:
    if from_stdin:
        try:
            return sys.stdin.buffer.readline().decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise _fail("the password on stdin is not UTF-8 text") from None
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
        for problem in error.errors(include_url=False, include_input=False):
            where = "_".join(str(part) for part in problem["loc"]).upper()
            setting = f"PORTCULLIS_{where}: " if where else ""
            typer.echo(f"error: {setting}{problem['msg']}", err=True)
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


@users.command("add")
def user_add(
    email: str,
    username: Annotated[str | None, typer.Option(help="Optional login name.")] = None,
    name: Annotated[str, typer.Option(help="Full name.")] = "",
    superuser: Annotated[bool, typer.Option(help="Make a superuser.")] = False,
    inactive: Annotated[bool, typer.Option(help="Create pending activation.")] = False,
    storage_mode: Annotated[
        StorageMode | None,
        typer.Option(help="Where the user's files live (default PORTCULLIS_DEFAULT_STORAGE_MODE)."),
    ] = None,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin.")] = False,
) -> None:
    """Create an account (the password is prompted for unless --password-stdin)."""
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


@users.command("list")
def user_list() -> None:
    """List every account: e-mail, username, name, status, access tags."""
    for account in _run(lambda s: s.admin.list_users()):
        typer.echo(_describe(account))


@users.command("set-password")
def user_set_password(
    email: str,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin.")] = False,
) -> None:
    """Set an account's password; its sessions end."""
    password = _read_password(password_stdin)
    account = _run(lambda s: s.admin.set_password(email, password))
    typer.echo(f"password set for {account.email}; its sessions were ended")


@users.command("rename")
def user_rename(email: str, username: str) -> None:
    """Give an account another username (unique under case folding and NFKC)."""
    _run(lambda s: s.admin.rename(email, username))
    typer.echo(f"{email} is now {username}")


ACCESS_OPTION = typer.Option("--access", help="The access type.", case_sensitive=False)


@users.command("grant")
def user_grant(
    email: str, tag: str, access: Annotated[AccessType, ACCESS_OPTION] = AccessType.READ
) -> None:
    """Grant an access type on a tag (READ tags are the profile's ``allow``)."""
    if _run(lambda s: s.admin.grant(email, tag, access)):
        typer.echo(f"granted {access.value} on {tag} to {email}")
    else:
        typer.echo(f"{email} has {access.value} on {tag} already; nothing changed")


@users.command("revoke")
def user_revoke(
    email: str, tag: str, access: Annotated[AccessType, ACCESS_OPTION] = AccessType.READ
) -> None:
    """Take an access type on a tag away."""
    _run(lambda s: s.admin.revoke(email, tag, access))
    typer.echo(f"revoked {access.value} on {tag} from {email}")


@users.command("deactivate")
def user_deactivate(email: str) -> None:
    """Disable an account and end its sessions."""
    account = _run(lambda s: s.admin.deactivate(email))
    typer.echo(f"deactivated {account.email}")


@users.command("sessions")
def user_sessions(email: str) -> None:
    """List an account's live sessions: id, created, last activity, address, user agent."""
    for session in _run(lambda s: s.admin.sessions_of(email)):
        fields = [
            session.id,
            session.created_at.isoformat(),
            session.last_seen_at.isoformat(),
            session.client_address or "-",
            session.user_agent or "-",
        ]
        typer.echo("\t".join(fields))


@users.command("logout-all")
def user_logout_all(email: str) -> None:
    """End every session of an account ("log out everywhere")."""
    ended = _run(lambda s: s.admin.logout_everywhere(email))
    typer.echo(f"ended {ended} session(s) of {email}")


@app.command()
def audit(
    user: Annotated[str | None, typer.Option(help="Only this account's events.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only events from this ISO date or date-time (UTC).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=MAX_READ, help="At most this many.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
) -> None:
    """Show the audit trail, newest first."""
    try:
        start = parse_since(since)
    except PortcullisError:
        raise _fail(f"--since: not an ISO date or date-time: {since}") from None
    events = _run(lambda s: s.audit.read(None, user, start, limit))
    for event in events:
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
