"""Reading another service's database: MySQL (PyMySQL, the ``import`` extra) or SQLite.

Read-only by intent: only SELECTs are sent, each table's columns as the database has
them today (BioStudies' schema was changed by hand, so a column may be missing).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, Table, create_engine, inspect, select
from sqlalchemy.engine import Connection, make_url


def source_url(raw: str) -> str:
    """A SQLAlchemy URL for ``raw``: mysql:// and mariadb:// read through PyMySQL, a plain
    path is a SQLite file. Raises ValueError for anything else."""
    if "://" not in raw:
        if not Path(raw).is_file():
            raise ValueError(f"no such file: {raw}")
        return f"sqlite:///{Path(raw).resolve()}"
    url = make_url(raw)
    backend = url.get_backend_name()
    if backend in ("mysql", "mariadb"):
        return url.set(drivername="mysql+pymysql").render_as_string(hide_password=False)
    if backend == "sqlite":
        return raw
    raise ValueError(f"unsupported source {url.drivername}://: use mysql://, or a SQLite file")


@contextmanager
def connected(raw: str) -> Iterator[Connection]:
    """A connection to the source. Raises ValueError for a URL we cannot read, and
    ImportError (saying which extra) when the MySQL driver is not installed."""
    url = source_url(raw)
    try:
        engine: Engine = create_engine(url)
    except ModuleNotFoundError as missing:
        raise ImportError(
            "reading MySQL needs PyMySQL: pip install 'portcullis[import]'"
        ) from missing
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def rows(connection: Connection, name: str, wanted: Sequence[str]) -> list[dict[str, Any]]:
    """Every row of table ``name``, with those of ``wanted`` columns it has (others absent).

    Raises LookupError when the table does not exist.
    """
    if not inspect(connection).has_table(name):
        raise LookupError(f"the source has no table {name}")
    table = Table(name, MetaData(), autoload_with=connection)
    columns = [table.c[column] for column in wanted if column in table.c]
    result = connection.execute(select(*columns))
    return [dict(row._mapping) for row in result]


def flag(value: Any) -> bool:
    """A MySQL BIT(1) comes as a byte string, a BOOLEAN as an int, SQLite's as an int."""
    if isinstance(value, bytes | bytearray):
        return any(value)
    return bool(value)


def utc(value: Any) -> datetime | None:
    """A DATETIME (naive: the services wrote UTC), an ISO string (dumpdata), or None."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    raise ValueError(f"not a time: {value!r}")


def text(value: Any) -> str:
    """A column's text, '' for NULL (names are optional in every source)."""
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return str(value)
