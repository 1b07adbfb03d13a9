"""Lists for a person (a header row, tab-separated columns) or for a script (JSON lines)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
import typer


def show(
    header: Sequence[str],
    records: Iterable[Mapping[str, Any]],
    *,
    as_json: bool,
    header_row: bool = True,
) -> None:
    """Print ``records`` (each keyed by the header's names) as a table or JSON lines.

    A table's cells are text, "-" for nothing; JSON keeps each value's own type.
    ``header_row`` False continues a table printed before (its next page).
    """
    if header_row and not as_json:
        typer.echo("\t".join(name.upper() for name in header))
    for record in records:
        if as_json:
            typer.echo(orjson.dumps(dict(record)).decode())
        else:
            typer.echo("\t".join(_cell(record.get(name)) for name in header))


def _cell(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    # Tabs and line breaks would shift or split the row.
    return " ".join(str(value).split())
