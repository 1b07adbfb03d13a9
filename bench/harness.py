"""Running wrk, reading what it reports, and judging and printing the results.

Nothing here starts servers: see ``bench.service``. Nothing here depends on timing
either, so the formatting and the invalidation rules are tested in tests/test_bench.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
SCRIPTS = HERE / "wrk"
MARKER = "BENCH_JSON "

# wrk leaves an answer slower than its timeout out of the latencies and counts a socket
# error instead. In a login storm the logins wait seconds by design (hashing yields the
# cores to the token checks): with 5 s, a slow host (storm login p99 4.7 s seen) lost
# their slowest answers from the p99 and the run was invalid. Longer than any run, so
# every answer that comes is timed.
TIMEOUT = "60s"


@dataclass(frozen=True)
class Load:
    """One wrk invocation: what to ask, how hard, for how long."""

    url: str
    script: str  # a file under bench/wrk/
    connections: int
    seconds: float
    env: Mapping[str, str] = field(default_factory=dict)
    threads: int = 1

    def command(self, wrk: str = "wrk") -> list[str]:
        return [
            wrk,
            f"-t{self.threads}",
            f"-c{self.connections}",
            f"-d{max(1, round(self.seconds))}s",
            "--timeout",
            TIMEOUT,
            "-s",
            str(SCRIPTS / self.script),
            self.url,
        ]


@dataclass(frozen=True)
class Measurement:
    """What wrk saw in one run."""

    requests: int
    seconds: float
    non2xx: int
    socket_errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    # Latency at p90.0, p90.1, ... p99.9 (get.lua): what merged_p99_ms merges runs by.
    tail_ms: tuple[float, ...] = ()

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.non2xx + self.socket_errors

    @property
    def valid(self) -> bool:
        """Any non-2xx answer or socket error invalidates a run; so does an empty one."""
        return self.errors == 0 and self.requests > 0


def parse_wrk(output: str) -> Measurement:
    """The measurement our Lua ``done`` hook printed. Raises ValueError if it did not."""
    for line in output.splitlines():
        if line.startswith(MARKER):
            raw = json.loads(line[len(MARKER) :])
            return Measurement(
                requests=int(raw["requests"]),
                seconds=raw["duration_us"] / 1e6,
                non2xx=int(raw["non2xx"]),
                socket_errors=sum(int(raw[k]) for k in ("connect", "read", "write", "timeout")),
                p50_ms=raw["p50_us"] / 1000,
                p90_ms=raw["p90_us"] / 1000,
                p99_ms=raw["p99_us"] / 1000,
                max_ms=raw["max_us"] / 1000,
                tail_ms=tuple(us / 1000 for us in raw.get("tail_us", ())),
            )
    raise ValueError(f"wrk printed no {MARKER.strip()} line:\n{output}")


def merged_p99_ms(runs: Sequence[Measurement]) -> float:
    """The p99 of every answer of ``runs`` together, from each run's tail.

    Each of a run's hundred tail points stands for a thousandth of its answers (those
    between it and the next point), so the merged p99 is the point at which the answers
    above it, the runs weighed by their answers, reach a hundredth of them all: to
    within a tenth of a percentile. Without every run's tail, the worst run's p99.
    """
    if not all(run.tail_ms for run in runs):
        return max((run.p99_ms for run in runs), default=0.0)
    points = sorted(((ms, run.requests / 1000) for run in runs for ms in run.tail_ms), reverse=True)
    wanted = sum(run.requests for run in runs) / 100
    above = 0.0
    for ms, answers in points:
        above += answers
        if above >= wanted:
            return ms
    return points[-1][0] if points else 0.0


def start_wrk(load: Load) -> subprocess.Popen[str]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    return subprocess.Popen(
        load.command(wrk),
        env={"PATH": "/usr/bin:/bin", **load.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish_wrk(process: subprocess.Popen[str], load: Load) -> Measurement:
    output, _ = process.communicate(timeout=load.seconds + 60)
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{output}")
    return parse_wrk(output)


def run_wrk(load: Load) -> Measurement:
    return finish_wrk(start_wrk(load), load)


def run_together(loads: Sequence[Load]) -> list[Measurement]:
    """Several wrk at once (the login storm); each a separate process."""
    processes = [start_wrk(load) for load in loads]
    return [finish_wrk(p, load) for p, load in zip(processes, loads, strict=True)]


# --- the machine ---------------------------------------------------------------------


def _all_cpus(proc_stat: str) -> list[int]:
    """Clock ticks of every CPU so far, from the text of /proc/stat: user, nice, system,
    idle, iowait, irq, softirq, steal (guest time is counted in user)."""
    fields = proc_stat.split("\n", 1)[0].split()
    if not fields or fields[0] != "cpu":
        raise ValueError("not /proc/stat: its first line is the total of every CPU")
    return [int(value) for value in fields[1:9]]


def cpu_ticks(proc_stat: str) -> tuple[int, int]:
    """(stolen, all) clock ticks of every CPU so far, from the text of /proc/stat.

    Steal is time the hypervisor gave to other guests while this one had work: it
    slows a run down but not the hash bound, which is timed in CPU time.
    """
    ticks = _all_cpus(proc_stat)
    return (ticks[7] if len(ticks) > 7 else 0), sum(ticks)


def stolen_share(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    """The share of the CPUs' time stolen between two readings of ``cpu_ticks``."""
    elapsed = after[1] - before[1]
    return (after[0] - before[0]) / elapsed if elapsed > 0 else None


def idle_ticks(proc_stat: str) -> tuple[int, int]:
    """(idle, all) clock ticks of every CPU so far, from the text of /proc/stat."""
    ticks = _all_cpus(proc_stat)
    return ticks[3] + ticks[4], sum(ticks)  # idle and iowait: no CPU ran anything


def task_stat(text: str) -> tuple[str, int]:
    """(name, user and system ticks) from the text of /proc/<pid>[/task/<tid>]/stat."""
    # The name may hold spaces and parentheses: it ends at the last ')'.
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 1 :].split()
    return name, int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


# --- where the CPU went ----------------------------------------------------------------


@dataclass(frozen=True)
class CpuReading:
    """CPU seconds spent so far, by who spent them. Two readings frame a run."""

    hashing: float  # the service's hashing threads
    workers: float  # the service's other threads: event loops, SQLite's writer, the hash service
    database: float  # the PostgreSQL server's processes
    busy: float  # every CPU of the machine, on anything
    elapsed: float  # every CPU of the machine, busy or idle


@dataclass(frozen=True)
class CpuSplit:
    """Milliseconds of the machine's CPU time per request during one run, by who spent it.

    The parts add up to the whole machine's time (cores x seconds / requests), so a
    fraction of the hash bound below one shows where the rest went.
    """

    hashing: float
    workers: float
    database: float
    load_generator: float
    rest: float  # the kernel's own threads, interrupts, the machine's other services
    idle: float

    @property
    def server(self) -> float:
        """The service's own processes: hashing and event loops."""
        return self.hashing + self.workers

    @property
    def total(self) -> float:
        return self.server + self.database + self.load_generator + self.rest + self.idle

    def describe(self, database: str | None) -> str:
        parts = [
            f"hashing threads {self.hashing:.2f}",
            f"event loops and hash service {self.workers:.2f}",
        ]
        if database:
            parts.append(f"{database} {self.database:.2f}")
        parts += [
            f"wrk {self.load_generator:.2f}",
            f"the rest of the machine {self.rest:.2f}",
            f"idle {self.idle:.2f}",
        ]
        return f"{self.total:.2f} ms of the machine's CPU time: " + ", ".join(parts)


def cpu_split(
    before: CpuReading, after: CpuReading, load_generator_seconds: float, requests: int
) -> CpuSplit:
    """Where the machine's CPU time went between two readings, per request.

    Per-process times and the machine's totals are counted in clock ticks by separate
    counters, so the rest, their difference, can come out a tick below zero: it is
    then shown as zero.
    """
    per_request = 1000 / max(1, requests)
    hashing = after.hashing - before.hashing
    workers = after.workers - before.workers
    database = after.database - before.database
    busy = after.busy - before.busy
    rest = max(0.0, busy - hashing - workers - database - load_generator_seconds)
    idle = max(0.0, (after.elapsed - before.elapsed) - busy)
    return CpuSplit(
        hashing=hashing * per_request,
        workers=workers * per_request,
        database=database * per_request,
        load_generator=load_generator_seconds * per_request,
        rest=rest * per_request,
        idle=idle * per_request,
    )


# --- judging -----------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A figure must reach ``min_fraction`` of its limit with a p99 under ``max_p99_ms``."""

    min_fraction: float
    max_p99_ms: float

    def describe(self) -> str:
        if self.max_p99_ms == float("inf"):
            return f">={self.min_fraction:.0%}"
        return f">={self.min_fraction:.0%}, p99<{self.max_p99_ms:g}ms"


@dataclass(frozen=True)
class Row:
    database: str
    name: str
    measurement: Measurement
    limit_name: str
    limit: float | None  # req/s the figure is a fraction of; None for the limits themselves
    target: Target | None = None
    cpu_ms: float | None = None  # the server's CPU time per request (all its processes)
    connections: int | None = None  # wrk's, where ``limit`` bounds what they can get

    @property
    def fraction(self) -> float | None:
        if not self.limit:
            return None
        return self.measurement.rate / self.limit

    @property
    def least_mean_ms(self) -> float | None:
        """The least mean latency the connections can see on this machine.

        wrk's connections each wait for an answer before they ask again, so they get
        ``connections / mean latency`` answers a second (Little's law); as that cannot
        exceed the limit, their mean latency cannot fall below ``connections / limit``.
        """
        if not self.connections or not self.limit:
            return None
        return self.connections / self.limit * 1000

    @property
    def p99_reachable(self) -> bool | None:
        """False when the p99 target lies below the least mean latency: no server meets it
        here, whatever it does (a p99 under the mean would need a tail of seconds)."""
        if self.target is None or self.least_mean_ms is None:
            return None
        return self.least_mean_ms < self.target.max_p99_ms

    @property
    def met(self) -> bool | None:
        """Whether the target holds; None when there is none. An invalid run never meets."""
        if self.target is None:
            return None
        if not self.measurement.valid:
            return False
        fraction = self.fraction or 0.0
        return (
            fraction >= self.target.min_fraction
            and self.measurement.p99_ms < self.target.max_p99_ms
        )

    def as_dict(self) -> dict[str, Any]:
        m = self.measurement
        return {
            "database": self.database,
            "name": self.name,
            **{key: value for key, value in asdict(m).items() if key != "tail_ms"},
            "rate": round(m.rate, 1),
            "errors": m.errors,
            "valid": m.valid,
            "limit_name": self.limit_name,
            "limit": None if self.limit is None else round(self.limit, 1),
            "fraction": None if self.fraction is None else round(self.fraction, 4),
            "target": None if self.target is None else asdict(self.target),
            "met": self.met,
            "connections": self.connections,
            "least_mean_ms": None if self.least_mean_ms is None else round(self.least_mean_ms, 1),
            "p99_target_reachable": self.p99_reachable,
            "server_cpu_ms_per_request": None if self.cpu_ms is None else round(self.cpu_ms, 3),
        }


COLUMNS = (
    "database",
    "run",
    "req/s",
    "p50 ms",
    "p99 ms",
    "errors",
    "of limit",
    "target",
    "",
    "server CPU ms/req",
)


def _cells(row: Row) -> list[str]:
    m = row.measurement
    fraction = "" if row.fraction is None else f"{row.fraction:.0%} of {row.limit_name}"
    verdict = {True: "ok", False: "MISSED", None: ""}[row.met]
    if row.met is False and row.p99_reachable is False:
        verdict = "MISSED: p99 out of reach here"
    if not m.valid:
        verdict = "INVALID"
    return [
        row.database,
        row.name,
        f"{m.rate:,.0f}" if m.rate >= 100 else f"{m.rate:,.1f}",
        f"{m.p50_ms:.2f}",
        f"{m.p99_ms:.2f}",
        str(m.errors),
        fraction,
        row.target.describe() if row.target else "",
        verdict,
        "" if row.cpu_ms is None else f"{row.cpu_ms:.3f}",
    ]


def table(rows: Sequence[Row], extra: Mapping[str, str] = {}) -> str:
    """A Markdown table of the rows, then one line per extra figure (limits, memory)."""
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    lines += ["| " + " | ".join(_cells(row)) + " |" for row in rows]
    lines += [""] + [f"- {key}: {value}" for key, value in extra.items()] if extra else []
    return "\n".join(lines)


def all_valid(rows: Sequence[Row]) -> bool:
    return all(row.measurement.valid for row in rows)


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
