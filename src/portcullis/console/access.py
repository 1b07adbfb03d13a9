"""``portcullis token …`` and ``portcullis service …``: access tokens and service accounts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Annotated, Any

import typer

from portcullis.console.pages import CURSOR, LIMIT, say_next_page, show_pages
from portcullis.core.errors import NotFound
from portcullis.core.models import AccessToken, Account, TokenScope
from portcullis.core.paging import Page
from portcullis.services import Services

Run = Callable[[Callable[[Services], Awaitable[Any]]], Any]


async def account_of(services: Services, login: str) -> Account:
    """The account whose e-mail or username (a service's name) is ``login``. Raises NotFound."""
    account = await services.hot_path.by_login(login)
    if account is None:
        raise NotFound(f"No account is known by '{login}'.")
    return account


def _describe(token: AccessToken) -> str:
    used = token.last_used_at.isoformat() if token.last_used_at else "never used"
    fields = [token.id, token.name, token.kind.value, token.scope.value]
    return "\t".join([*fields, token.created_at.isoformat(), token.expires_at.isoformat(), used])


def access_commands(run: Run) -> tuple[typer.Typer, typer.Typer]:
    """The ``token`` and ``service`` command groups, running their actions with ``run``."""
    tokens = typer.Typer(help="Manage access tokens.", no_args_is_help=True)
    services = typer.Typer(help="Manage service accounts.", no_args_is_help=True)

    @tokens.command("create")
    def token_create(
        login: str,
        name: Annotated[str, typer.Option(help="What the token is for.")],
        scope: Annotated[TokenScope, typer.Option(help="read or full.")] = TokenScope.READ,
        days: Annotated[
            int | None, typer.Option(min=1, help="Lifetime (default: the longest).")
        ] = None,
    ) -> None:
        """Make a token for an account (by e-mail, username or service name); shown once."""
        lifetime = timedelta(days=days) if days else None

        async def create(s: Services) -> str:
            account = await account_of(s, login)
            issued = await s.tokens.create(account, name, scope, lifetime)
            return f"{_describe(issued.access_token)}\n{issued.token}"

        typer.echo(run(create))

    @tokens.command("list")
    def token_list(login: str, limit: LIMIT = None, cursor: CURSOR = None) -> None:
        """List an account's tokens, newest first: id, name, kind, scope, made, expires,
        last used."""

        def show_tokens(found: Sequence[AccessToken], _: bool) -> None:
            for token in found:
                typer.echo(_describe(token))

        async def list_pages(s: Services) -> str | None:
            account = await account_of(s, login)

            async def read(size: int, after: str | None) -> Page[AccessToken]:
                return await s.tokens.page(account.id, size, after)

            return await show_pages(read, limit, cursor, show_tokens)

        say_next_page(run(list_pages))

    @tokens.command("revoke")
    def token_revoke(login: str, token_id: str) -> None:
        """Revoke one token at once, everywhere."""

        async def revoke(s: Services) -> None:
            await s.tokens.revoke(await account_of(s, login), token_id)

        run(revoke)
        typer.echo(f"revoked {token_id}")

    @services.command("add")
    def service_add(
        name: str,
        tag: Annotated[list[str] | None, typer.Option(help="A READ tag; repeat for more.")] = None,
    ) -> None:
        """Make a service account: no password, no pages, only tokens (`token create NAME`)."""
        account = run(lambda s: s.service_accounts.add(name, tag or []))
        typer.echo(f"created service {account.username}\t{','.join(account.access_tags) or '-'}")

    @services.command("list")
    def service_list(limit: LIMIT = None, cursor: CURSOR = None) -> None:
        """List the service accounts by id, and their tags."""

        def show_services(found: Sequence[Account], _: bool) -> None:
            for account in found:
                typer.echo(f"{account.username}\t{','.join(account.access_tags) or '-'}")

        async def list_pages(s: Services) -> str | None:
            return await show_pages(s.service_accounts.list, limit, cursor, show_services)

        say_next_page(run(list_pages))

    return tokens, services
