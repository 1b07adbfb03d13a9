"""A failed statement's log line names no stored value: no hash, secret, address or token."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import MakeServer, SettingsFactory, _postgres_admin_dsn
from tests.support import PASSWORD, add_account

pytestmark = pytest.mark.postgres

EMAIL = "leak@example.org"


@pytest.fixture
def postgres_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's errors carry DETAIL and asyncpg's quote values")
    return database_url


def alter(database_url: str, *statements: str) -> None:
    import asyncpg

    async def run() -> None:
        dsn = make_url(_postgres_admin_dsn()).set(database=make_url(database_url).database)
        connection = await asyncpg.connect(dsn.render_as_string(False))
        try:
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured line as a handler would write it, tracebacks included."""
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    return "\n".join(formatter.format(record) for record in caplog.records)


# Each makes the next account's insert fail as a real fault would: a value too long for
# its column (SQLAlchemy's error lists the statement's parameters), or a refusal whose
# DETAIL quotes the row (as PostgreSQL's "Failing row contains (...)" does).
FAULTS = {
    "too long": ["ALTER TABLE accounts ALTER COLUMN secret TYPE varchar(4)"],
    "detail": [
        """CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN
             RAISE EXCEPTION 'refused' USING ERRCODE = '22000',
               DETAIL = 'Failing row contains (' || NEW.email || ', '
                        || coalesce(NEW.password_hash, '') || ', ' || NEW.secret || ')';
           END $$ LANGUAGE plpgsql""",
        "CREATE TRIGGER refuse BEFORE INSERT ON accounts FOR EACH ROW EXECUTE FUNCTION refuse()",
    ],
}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failed_insert_logs_neither_hash_nor_secret(
    postgres_url: str,
    settings_for: SettingsFactory,
    make_server: MakeServer,
    caplog: pytest.LogCaptureFixture,
    fault: str,
) -> None:
    server = make_server(settings_for(require_activation=False))
    alter(postgres_url, *FAULTS[fault])
    registration = {
        "email": EMAIL,
        "password": PASSWORD,
        "name": "Leak Test",
        "instanceKey": "default",
        "path": "activate",
    }
    with caplog.at_level(logging.INFO), server.client() as client:
        answer = client.post("/auth/register", json=registration)
    assert answer.status_code == 500, answer.text
    text = logged(caplog)
    assert "unexpected error on POST /auth/register" in text  # the fault was logged
    for leak in (EMAIL, "$argon2", "Failing row", "[parameters:", "Leak Test"):
        assert leak not in text, leak
    assert "the message is withheld" in text


def test_the_lean_sign_in_path_logs_no_argument_value(
    postgres_url: str,
    settings_for: SettingsFactory,
    make_server: MakeServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # asyncpg refuses an argument its column cannot take with a message quoting it:
    # here the new session's token hash, which must never be written anywhere else.
    server = make_server(settings_for())
    add_account(server.settings, EMAIL)
    alter(postgres_url, "ALTER TABLE sessions ALTER COLUMN token_hash TYPE integer USING 0")
    agent = "a browser named Quoted-Value-Agent"
    with caplog.at_level(logging.INFO), server.client() as client:
        answer = client.post(
            "/auth/login",
            json={"login": EMAIL, "password": PASSWORD},
            headers={"User-Agent": agent},
        )
    assert answer.status_code == 500, answer.text
    text = logged(caplog)
    assert "unexpected error on POST /auth/login" in text
    assert "DataError" in text
    for leak in ("query argument", "b'", agent, EMAIL):
        assert leak not in text, leak
