"""Cursors: what a page gives is read back as the same place; anything else is refused."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from portcullis.core.errors import InvalidInput
from portcullis.core.paging import (
    Position,
    cursor_at,
    cursor_of,
    newest_page,
    position_of,
    row_id_of,
)

AT = datetime(2026, 12, 3, 9, 0, 0, tzinfo=UTC)


def forged(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_a_position_cursor_reads_back_as_its_position() -> None:
    for row_id in ("abc", "_GIy2gNGjQA-HozT", "0" * 64, "a:b"):
        assert position_of(cursor_at(Position(AT, row_id))) == Position(AT, row_id)


def test_no_cursor_or_an_empty_one_is_the_start() -> None:
    assert position_of(None) is None and position_of("") is None
    assert row_id_of(None) is None and row_id_of("") is None


def test_each_kind_refuses_the_other() -> None:
    with pytest.raises(InvalidInput):
        position_of(cursor_of(5))
    with pytest.raises(InvalidInput):
        row_id_of(cursor_at(Position(AT, "abc")))


@pytest.mark.parametrize(
    "text",
    ["at:", "at:1:", "at::x", "at:+1:x", "at:1.5:x", "at:1:a\nb", "at:1:é", "at:1:" + "x" * 65],
)
def test_a_forged_position_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        position_of(forged(text))


def test_a_time_beyond_what_a_date_holds_is_refused() -> None:
    with pytest.raises(InvalidInput):
        position_of(forged("at:999999999999999999:x"))


def test_a_page_names_its_last_item_only_when_more_follow() -> None:
    rows = [Position(AT, "c"), Position(AT, "b"), Position(AT, "a")]
    assert newest_page(rows, 2).items == rows[:2]
    assert position_of(newest_page(rows, 2).next) == rows[1]
    assert newest_page(rows[:2], 2).next is None
    assert newest_page([], 2).next is None
