"""Meters on prometheus-client, in one process or across ``serve``'s workers.

Imported only when metrics are on, and in ``serve`` only after it has set
PROMETHEUS_MULTIPROC_DIR: prometheus-client picks where values live when it is first
imported. With the directory set every process (each worker, and serve's own, where
the hashes of several workers run) writes its counts to files there, and a scrape of
any worker adds them all up.
"""

from __future__ import annotations

import os
from bisect import bisect_left

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from portcullis.observability.context import current_dialect
from portcullis.observability.meters import Backlog, Meters
from portcullis.observability.multiprocess import MULTIPROCESS_DIR

PREFIX = "portcullis"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
HASH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
WAIT_BUCKETS = (0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# Made at zero at start, so that dashboards and alerts see them before the first event.
SIGN_IN_OUTCOMES = ("ok", "bad_password", "unknown", "held_back", "inactive")
SIGN_IN_DIALECTS = ("biostudies", "trackhub", "pages")
TOKEN_OUTCOMES = ("ok", "missing", "unknown", "expired", "inactive")
MAIL_OUTCOMES = ("sent", "retried", "dropped")
BACKING_SERVICES = ("database", "redis")
LIMITS = ("login", "register", "mail", "key", "reset_per_account")
LATENCY_BOUNDS = (*LATENCY_BUCKETS, float("inf"))


class PendingLatencies:
    """One latency series' observations not yet written: a count per bucket and the sum.

    prometheus-client writes each observation at once (two locked writes to the shared
    files with several workers) and has no call that adds many. These are added to the
    series' own values at a flush, as ``observe`` would have added them one by one;
    tests/observability/test_prometheus_batches.py checks the scrape is the same, so a
    prometheus-client that keeps its histograms otherwise fails the suite, not a scrape.
    """

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * len(LATENCY_BOUNDS)
        self.total = 0.0

    def add(self, seconds: float) -> None:
        # observe's rule: the first bucket whose bound is at least the value.
        self.counts[bisect_left(LATENCY_BOUNDS, seconds)] += 1
        self.total += seconds

    def write_to(self, series: Histogram) -> None:
        series._sum.inc(self.total)  # private: see the class
        for bucket, count in zip(series._buckets, self.counts, strict=True):
            if count:
                bucket.inc(count)


# The *_created series double every counter in one process and do not exist across
# several: one shape of scrape, whatever the number of workers.
disable_created_metrics()  # type: ignore[no-untyped-call]


class PrometheusMeters(Meters):
    enabled = True

    def __init__(self) -> None:
        # The app's own registry: apps made side by side (the tests) count apart.
        self._registry = CollectorRegistry(auto_describe=True)
        self._requests = self._counter(
            "http_requests", "Requests answered.", ("route", "method", "status", "dialect")
        )
        self._latency = Histogram(
            f"{PREFIX}_http_request_duration_seconds",
            "Time from a request's arrival to its answer's last byte.",
            ("route", "method", "dialect"),
            buckets=LATENCY_BUCKETS,
            registry=self._registry,
        )
        self._sign_ins = self._counter("sign_ins", "Password sign-ins.", ("outcome", "dialect"))
        self._tokens = self._counter("token_checks", "Session tokens resolved.", ("outcome",))
        self._lockouts = self._counter("lockouts_started", "Holds started by failed sign-ins.")
        self._refusals = self._counter(
            "rate_limit_refusals", "Requests refused by a per-address limit.", ("limit",)
        )
        self._mail = self._counter("mail_deliveries", "Outbox delivery attempts.", ("outcome",))
        self._errors = self._counter(
            "backing_errors", "Failed calls to a backing service.", ("service",)
        )
        self._hash_time = Histogram(
            f"{PREFIX}_password_hash_seconds",
            "Time an argon2 hash or verification ran on its thread.",
            buckets=HASH_BUCKETS,
            registry=self._registry,
        )
        self._hash_wait = Histogram(
            f"{PREFIX}_password_hash_queue_wait_seconds",
            "Time a hash waited for a hashing thread and slot.",
            buckets=WAIT_BUCKETS,
            registry=self._registry,
        )
        self._children: dict[tuple[str, str, int, str], tuple[Counter, Histogram]] = {}
        self._token_children = {outcome: self._tokens.labels(outcome) for outcome in TOKEN_OUTCOMES}
        # Increments of the per-request counters and latencies not yet written: flush().
        self._pending: dict[Counter, int] = {}
        self._pending_latencies: dict[Histogram, PendingLatencies] = {}
        self._zeros()

    def _counter(self, name: str, text: str, labels: tuple[str, ...] = ()) -> Counter:
        return Counter(f"{PREFIX}_{name}", text, labels, registry=self._registry)

    def _zeros(self) -> None:
        for outcome in SIGN_IN_OUTCOMES:
            for dialect in SIGN_IN_DIALECTS:
                self._sign_ins.labels(outcome, dialect)
        for counter, values in (
            (self._tokens, TOKEN_OUTCOMES),
            (self._mail, MAIL_OUTCOMES),
            (self._errors, BACKING_SERVICES),
            (self._refusals, LIMITS),
        ):
            for value in values:
                counter.labels(value)
        self._lockouts.inc(0)

    def signed_in(self, outcome: str) -> None:
        self._sign_ins.labels(outcome, current_dialect()).inc()

    def lockout_started(self, seconds: int) -> None:
        super().lockout_started(seconds)
        self._lockouts.inc()

    def token_checked(self, outcome: str) -> None:
        child = self._token_children.get(outcome) or self._tokens.labels(outcome)
        self._pending[child] = self._pending.get(child, 0) + 1

    def hashed(self, waited: float, took: float) -> None:
        self._hash_wait.observe(waited)
        self._hash_time.observe(took)

    def request(self, route: str, method: str, status: int, dialect: str, seconds: float) -> None:
        # labels() checks and locks on every call: each series' children are looked up
        # once, then found in a plain dict (the label sets are few: routes x statuses).
        key = (route, method, status, dialect)
        children = self._children.get(key)
        if children is None:
            children = (
                self._requests.labels(route, method, str(status), dialect),
                self._latency.labels(route, method, dialect),
            )
            self._children[key] = children
        self._pending[children[0]] = self._pending.get(children[0], 0) + 1
        latencies = self._pending_latencies.get(children[1])
        if latencies is None:
            latencies = self._pending_latencies[children[1]] = PendingLatencies()
        latencies.add(seconds)

    def flush(self) -> None:
        """Write the per-request counts and latencies gathered since the last flush.

        With several workers each increment is a locked write to a shared file (2.5 µs
        here; a request's counts, its latency and its token check's were 13 µs together,
        7 % of the token check's throughput); gathered in dicts they cost a tenth of
        that. The app flushes twice a second and before every scrape, so a scrape of a
        worker sees its own counts at once and its siblings' within half a second.
        """
        pending, self._pending = self._pending, {}
        for child, increments in pending.items():
            child.inc(increments)
        latencies, self._pending_latencies = self._pending_latencies, {}
        for series, observed in latencies.items():
            observed.write_to(series)

    def rate_limited(self, limit: str) -> None:
        self._refusals.labels(limit).inc()

    def mail_delivered(self, outcome: str) -> None:
        self._mail.labels(outcome).inc()

    def backing_error(self, service: str) -> None:
        self._errors.labels(service).inc()

    def exposition(self, backlog: Backlog | None) -> bytes:
        """Every process's counts (or this one's), and the outbox as the database has it."""
        self.flush()
        if MULTIPROCESS_DIR in os.environ:
            counted = CollectorRegistry()
            MultiProcessCollector(counted)  # type: ignore[no-untyped-call]
        else:
            counted = self._registry
        outbox = CollectorRegistry(auto_describe=False)
        if backlog is not None:
            outbox.register(OutboxCollector(backlog))
        return generate_latest(counted) + generate_latest(outbox)


class OutboxCollector(Collector):
    """The outbox's gauges, read from the database at the scrape: one truth for all workers."""

    def __init__(self, backlog: Backlog):
        self._backlog = backlog

    def collect(self) -> list[GaugeMetricFamily]:
        return [
            GaugeMetricFamily(
                f"{PREFIX}_mail_outbox_depth",
                "Unsent mail that will still be tried.",
                value=self._backlog.depth,
            ),
            GaugeMetricFamily(
                f"{PREFIX}_mail_outbox_oldest_due_seconds",
                "How long the oldest due, unsent mail has been due; 0 when none is.",
                value=self._backlog.oldest_due_seconds,
            ),
        ]
