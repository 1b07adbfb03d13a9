"""The purge's batches are sized by the time they take, not by a fixed count of rows."""

from __future__ import annotations

import pytest

from portcullis.core.housekeeping import BATCH, BATCH_SECONDS, LEAST_BATCH, next_batch


def test_a_batch_that_took_its_goal_is_kept() -> None:
    assert next_batch(1000, BATCH_SECONDS, BATCH) == 1000


@pytest.mark.parametrize(
    ("took", "expected"), [(BATCH_SECONDS / 4, 2000), (BATCH_SECONDS * 4, 500)]
)
def test_it_moves_towards_the_goal_by_at_most_double_or_half(took: float, expected: int) -> None:
    assert next_batch(1000, took, BATCH) == expected


def test_a_little_off_is_corrected_in_proportion() -> None:
    assert next_batch(1000, BATCH_SECONDS * 1.25, BATCH) == 800


def test_a_fast_database_gets_at_most_the_largest_batch() -> None:
    assert next_batch(BATCH, 0.0, BATCH) == BATCH


def test_a_slow_one_still_deletes_some_rows_each_time() -> None:
    size = 500
    for _ in range(20):
        size = next_batch(size, 10.0, BATCH)
    assert size == LEAST_BATCH


def test_a_largest_batch_below_the_least_is_kept() -> None:
    assert next_batch(4, 10.0, 4) == 4
    assert next_batch(4, 0.0, 4) == 4
