"""What every bench run is made of: a measured wrk run, its limit measured around it,
the ceiling, the database it runs on, and the machine it ran on."""

from __future__ import annotations

import argparse
import os
import platform
import resource
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import service
from bench.harness import CpuSplit, Load, Measurement, Row, Target, cpu_split, run_wrk


def measure(load: Load, warmup: float, server: service.Server) -> tuple[Measurement, CpuSplit]:
    """wrk's measurement, and where the machine's CPU time went during it, per request."""
    if warmup > 0:
        run_wrk(Load(load.url, load.script, load.connections, warmup, load.env, load.threads))
    pids = server.pids()
    before = service.read_cpu(pids)
    wrk_before = _children_cpu_seconds()
    measurement = run_wrk(load)
    wrk_seconds = _children_cpu_seconds() - wrk_before  # wrk has exited and been waited for
    after = service.read_cpu(pids)
    return measurement, cpu_split(before, after, wrk_seconds, measurement.requests)


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Trial:
    """One measured run and its limit: the mean of the limit just before and just after."""

    measurement: Measurement
    cpu: CpuSplit
    limit: float

    @property
    def fraction(self) -> float:
        return self.measurement.rate / self.limit if self.limit else 0.0

    def row(self, kind: str, name: str, limit_name: str, target: Target | None, load: Load) -> Row:
        return Row(
            kind,
            name,
            self.measurement,
            limit_name,
            self.limit,
            target,
            self.cpu.server,
            load.connections,
        )


def bracketed(
    limit: Callable[[], float],
    run: Callable[[], tuple[Measurement, CpuSplit]],
    repeats: int,
) -> tuple[Trial, list[Trial]]:
    """``repeats`` runs between ``repeats + 1`` measurements of their limit.

    Returns the median run by fraction of its limit, and all of them; an invalid run
    (a non-2xx answer) is returned instead of the median, so it is never hidden.
    """
    limits = [limit()]
    trials = []
    for _ in range(repeats):
        measurement, cpu = run()
        limits.append(limit())
        trials.append(Trial(measurement, cpu, (limits[-2] + limits[-1]) / 2))
    invalid = [trial for trial in trials if not trial.measurement.valid]
    if invalid:
        return invalid[0], trials
    ranked = sorted(trials, key=lambda trial: trial.fraction)
    return ranked[len(ranked) // 2], trials


def ceiling(args: argparse.Namespace, workdir: Path) -> tuple[Measurement, CpuSplit]:
    port = service.free_port()
    with service.running(
        service.ceiling_command(port, args.workers),
        {"PATH": os.environ["PATH"]},
        port,
        args.workers,
        service.ROOT,
        workdir / "ceiling.log",
    ) as server:
        load = Load(server.url, "get.lua", 32, args.seconds, {"BENCH_PATH": "/auth/profile"})
        return measure(load, args.warmup, server)


@contextmanager
def database_for(
    kind: str, args: argparse.Namespace, workdir: Path, sqlite_file: Path | None = None
) -> Iterator[str]:
    """The URL of a database of the bench's own: a file (by default under ``workdir``),
    or a PostgreSQL database made for the run and dropped after it."""
    if kind == "sqlite":
        yield f"sqlite:///{sqlite_file or workdir / 'sqlite' / 'portcullis.db'}"
    else:
        with service.postgres_database(args.postgres_url) as url:
            yield url


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cores_usable": service.cores(),
        "cpu": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }
