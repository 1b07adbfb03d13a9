"""The memo behind the token checks' kept answers: used again only for the same values."""

from __future__ import annotations

from dataclasses import dataclass

from portcullis.core.memo import Memo


@dataclass(frozen=True)
class Row:
    status: str
    seen: int


def test_what_was_made_is_given_back_for_the_very_same_values() -> None:
    memo: Memo[str, str] = Memo()
    row = Row("active", 1)
    assert memo.get("a", row) is None
    assert memo.keep("a", "made", row) == "made"
    assert memo.get("a", row) == "made"


def test_equal_values_count_as_the_same_and_any_difference_does_not() -> None:
    memo: Memo[str, str] = Memo()
    memo.keep("a", "made", Row("active", 1), 7)
    assert memo.get("a", Row("active", 1), 7) == "made"
    assert memo.get("a", Row("disabled", 1), 7) is None
    assert memo.get("a", Row("active", 2), 7) is None
    assert memo.get("a", Row("active", 1), 8) is None
    assert memo.get("a", Row("active", 1)) is None  # fewer values: not what it was made of
    assert memo.get("b", Row("active", 1), 7) is None


def test_a_key_made_anew_replaces_what_it_held() -> None:
    memo: Memo[str, str] = Memo()
    memo.keep("a", "first", Row("active", 1))
    memo.keep("a", "second", Row("active", 2))
    assert memo.get("a", Row("active", 1)) is None
    assert memo.get("a", Row("active", 2)) == "second"


def test_it_keeps_at_most_its_size_dropping_the_oldest() -> None:
    memo: Memo[str, int] = Memo(size=2)
    for n, key in enumerate(("a", "b", "c")):
        memo.keep(key, n, key)
    assert memo.get("a", "a") is None  # "a" went for "c"
    assert (memo.get("b", "b"), memo.get("c", "c")) == (1, 2)
    memo.keep("c", 3, "c")  # a key kept again takes no room of another's
    assert memo.get("b", "b") == 1
