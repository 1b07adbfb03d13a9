"""RowMemo: a token's row is converted again only when it changed."""

from __future__ import annotations

from typing import Any

from portcullis.storage.hot_path_sql import RowMemo


class Converter:
    """Counts the rows it converts; makes of each row its columns but the token hash."""

    def __init__(self) -> None:
        self.converted: list[Any] = []

    def __call__(self, row: Any) -> tuple[Any, ...]:
        self.converted.append(row)
        return tuple(row[:-1])


def test_the_same_row_again_gives_the_same_values_unconverted() -> None:
    convert = Converter()
    memo = RowMemo(convert)
    first = memo(("ann", 1, b"hash"))
    assert memo(("ann", 1, b"hash")) is first
    assert convert.converted == [("ann", 1, b"hash")]


def test_a_row_changed_in_any_column_is_converted_anew() -> None:
    memo = RowMemo(Converter())
    assert memo(("active", 1, b"hash")) == ("active", 1)
    assert memo(("disabled", 1, b"hash")) == ("disabled", 1)
    assert memo(("disabled", 2, b"hash")) == ("disabled", 2)
