"""Latencies gathered between flushes scrape exactly as prometheus-client's own observe.

PendingLatencies writes into a histogram's values directly (prometheus-client has no
call that adds many observations); if a release keeps them otherwise, this fails.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from portcullis.observability.prometheus import (
    LATENCY_BUCKETS,
    PREFIX,
    PendingLatencies,
    PrometheusMeters,
)

NAME = f"{PREFIX}_http_request_duration_seconds"
LABELS = ("route", "method", "dialect")
# On the buckets' bounds and either side of them, as well as anywhere.
SECONDS = st.one_of(
    st.sampled_from(LATENCY_BUCKETS),
    st.floats(min_value=0, max_value=30, allow_nan=False),
    st.sampled_from([0.0, 1e-9, 0.0010000001, 9.999999, 10.0000001, 1e6]),
)


def _latency_lines(exposition: bytes) -> dict[str, float]:
    """Each latency sample (name and labels) and its value."""
    samples = {}
    for line in exposition.decode().splitlines():
        if line.startswith(NAME):
            sample, _, value = line.rpartition(" ")
            samples[sample] = float(value)
    return samples


def _same(gathered: dict[str, float], one_by_one: dict[str, float]) -> bool:
    """Counts exactly; sums as floats added in another order may differ in the last bit."""
    return gathered.keys() == one_by_one.keys() and all(
        math.isclose(value, one_by_one[sample], rel_tol=1e-9, abs_tol=1e-12)
        if "_sum{" in sample
        else value == one_by_one[sample]
        for sample, value in gathered.items()
    )


def _observed_one_by_one(observations: list[tuple[str, float]]) -> bytes:
    registry = CollectorRegistry()
    histogram = Histogram(NAME, "x", LABELS, buckets=LATENCY_BUCKETS, registry=registry)
    for route, seconds in observations:
        histogram.labels(route, "GET", "biostudies").observe(seconds)
    return generate_latest(registry)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["/auth/profile", "/auth/verify"]), SECONDS), max_size=60),
    st.integers(min_value=0, max_value=60),
)
def test_a_flushed_scrape_is_what_observing_one_by_one_gives(
    observations: list[tuple[str, float]], flush_after: int
) -> None:
    meters = PrometheusMeters()
    for n, (route, seconds) in enumerate(observations):
        if n == flush_after:
            meters.flush()  # some written, the rest still gathered: the scrape adds both
        meters.request(route, "GET", 200, "biostudies", seconds)
    gathered = _latency_lines(meters.exposition(None))
    assert _same(gathered, _latency_lines(_observed_one_by_one(observations)))


def test_nothing_is_written_twice() -> None:
    meters = PrometheusMeters()
    meters.request("/auth/profile", "GET", 200, "biostudies", 0.003)
    first = meters.exposition(None)
    assert meters.exposition(None) == first


def test_one_series_pending_holds_a_count_per_bucket_and_the_sum() -> None:
    pending = PendingLatencies()
    for seconds in (0.001, 0.0011, 11.0):
        pending.add(seconds)
    assert sum(pending.counts) == 3
    assert pending.counts[0] == 1 and pending.counts[1] == 1 and pending.counts[-1] == 1
    assert pending.total == 0.001 + 0.0011 + 11.0
