"""The scale run of issue 24: ``python -m bench --scale``.

On each database it first measures a quiet database (2,000 accounts, as the quiet
bench), then a portal's (bench/seeding.py: a million accounts, five million live and two
million expired sessions, ten million audit rows, one account with a thousand sessions),
with the same harness and limits: token checks, forward-auth and logins, each between
measurements of its limit; the crowded account's session list, the superuser's user
list (first page and one deep in the table) and one user's audit trail, a page each;
and the purge of the expired sessions while token checks run.

The targets: token checks and logins at scale within 10 % of the quiet database's, as
fractions of their limits measured in the same run; token checks at least 50 % of the
ceiling; their p99 during the purge at most twice the quiet p99; RSS per worker under
150 MiB. The tables' sizes are reported per account and per session.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bench import seeding, service
from bench.harness import (
    CpuSplit,
    Load,
    Measurement,
    Row,
    Target,
    all_valid,
    merged_p99_ms,
    run_wrk,
    table,
    write_json,
)
from bench.runs import Trial, bracketed, ceiling, database_for, measure
from portcullis.core.paging import cursor_of

RSS_LIMIT_MIB = 150
SCALE_CHECKS = Target(min_fraction=0.50, max_p99_ms=10)
AS_QUIET = 0.90  # within 10 % of the quiet database's fraction of the same limit
LIST_CONNECTIONS = 8


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("the scale run (--scale)")
    group.add_argument("--scale", action="store_true", help="run the scale bench instead")
    defaults = seeding.Shape()
    group.add_argument("--scale-accounts", type=int, default=defaults.accounts)
    group.add_argument("--scale-live-sessions", type=int, default=defaults.live_sessions)
    group.add_argument("--scale-expired-sessions", type=int, default=defaults.expired_sessions)
    group.add_argument("--scale-audit-rows", type=int, default=defaults.audit_rows)


def shape_of(args: argparse.Namespace) -> seeding.Shape:
    return seeding.Shape(
        accounts=args.scale_accounts,
        live_sessions=args.scale_live_sessions,
        expired_sessions=args.scale_expired_sessions,
        audit_rows=args.scale_audit_rows,
    )


class Limits:
    """The limits, measured again around every run, and every figure of them kept."""

    def __init__(self, args: argparse.Namespace, workdir: Path):
        self._args = args
        self._workdir = workdir
        self.ceilings: list[tuple[Measurement, CpuSplit]] = []
        self.hash_bounds: list[float] = []

    def ceiling(self) -> float:
        self.ceilings.append(ceiling(self._args, self._workdir))
        return self.ceilings[-1][0].rate

    def hash_bound(self) -> float:
        verify = service.verify_cpu_seconds(self._args.hash_rounds, service.cores())
        self.hash_bounds.append(service.cores() / verify)
        return self.hash_bounds[-1]


def _checks(url: str, tokens: Path, seconds: float, path: str = "/auth/profile") -> Load:
    return Load(url, "get.lua", 32, seconds, {"BENCH_PATH": path, "BENCH_TOKENS": str(tokens)})


def _logins(url: str, logins: Path, seconds: float) -> Load:
    env = {"BENCH_ACCOUNTS": str(logins), "BENCH_PASSWORD": service.PASSWORD}
    return Load(url, "login.lua", 8, seconds, env)


def _lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def _trial(
    limit: Callable[[], float], load: Load, args: argparse.Namespace, server: service.Server
) -> Trial:
    trial, _ = bracketed(limit, lambda: measure(load, args.warmup, server), args.repeats)
    return trial


def quiet_database(
    kind: str, args: argparse.Namespace, workdir: Path, limits: Limits
) -> tuple[Trial, Trial]:
    """Token checks and logins on 2,000 accounts: what the scale run is compared with."""
    data_dir = workdir / f"{kind}-quiet"
    data_dir.mkdir(parents=True, exist_ok=True)
    with database_for(kind, args, workdir, data_dir / "portcullis.db") as url:
        env = service.service_env(data_dir, url)
        service.migrate(env, data_dir)
        logins = service.seed(env, args.accounts)
        with service.serving(env, args.workers, data_dir) as server:
            tokens = _lines(
                data_dir / "tokens.txt", service.sign_in(server.url, logins[: args.tokens])
            )
            if kind == "postgresql":
                service.settle_postgres(url)
            print(f"[{kind}, 2,000 accounts] token checks and logins", flush=True)
            checks = _trial(limits.ceiling, _checks(server.url, tokens, args.seconds), args, server)
            login_file = _lines(data_dir / "logins.txt", logins)
            signins = _trial(
                limits.hash_bound, _logins(server.url, login_file, args.seconds), args, server
            )
    return checks, signins


def purge_during_checks(
    env: dict[str, str], data_dir: Path, load: Load
) -> tuple[Measurement, float, str]:
    """``portcullis purge`` (an operator's cron job) while token checks run, in runs of
    ``load.seconds`` until it is done: every answer's latency counts in one p99, merged
    from the runs' tails. The time is the purge process's, start-up included."""
    began = time.monotonic()
    purge = subprocess.Popen(
        [str(service.PORTCULLIS), "purge"],
        env=env,
        cwd=data_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    said: list[str] = []
    ended: list[float] = []

    def wait() -> None:
        said.append(purge.communicate()[0])
        ended.append(time.monotonic())

    waiter = threading.Thread(target=wait)
    waiter.start()
    runs = []
    while waiter.is_alive():
        runs.append(run_wrk(load))
    waiter.join()
    if purge.returncode != 0:
        raise RuntimeError(f"portcullis purge failed ({purge.returncode}):\n{said[0]}")
    merged = Measurement(
        requests=sum(run.requests for run in runs),
        seconds=sum(run.seconds for run in runs),
        non2xx=sum(run.non2xx for run in runs),
        socket_errors=sum(run.socket_errors for run in runs),
        p50_ms=statistics.median(run.p50_ms for run in runs),
        p90_ms=statistics.median(run.p90_ms for run in runs),
        # Of every answer during the purge, as the target asks; the worst run's own p99
        # (the tail of a few seconds among hundreds) is reported beside it.
        p99_ms=merged_p99_ms(runs),
        max_ms=max(run.max_ms for run in runs),
    )
    worst = max(run.p99_ms for run in runs)
    return merged, ended[0] - began, f"{said[0].strip()}; the worst run's p99 {worst:.1f} ms"


def scale_database(
    kind: str, args: argparse.Namespace, workdir: Path
) -> tuple[list[Row], dict[str, Any]]:
    limits = Limits(args, workdir)
    quiet_checks, quiet_logins = quiet_database(kind, args, workdir, limits)
    shape = shape_of(args)
    data_dir = workdir / kind
    data_dir.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    extra: dict[str, Any] = {}
    database_file = data_dir / "portcullis.db"
    with database_for(kind, args, workdir, database_file) as url:
        # The purge measured is the one run below; the workers' own (every ten minutes)
        # would otherwise start at a moment of their choosing in the middle of a run.
        env = {**service.service_env(data_dir, url), "PORTCULLIS_PURGE_INTERVAL_SECONDS": "0"}
        service.migrate(env, data_dir)
        password_hash = service.password_hash(service.settings_from(env))
        now = int(time.time())
        print(f"[{kind}] seeding {shape}", flush=True)
        dsn = make_url(url).set(drivername="postgresql").render_as_string(False)
        if kind == "sqlite":
            seeded = seeding.seed_sqlite(database_file, shape, password_hash, now)
        else:
            seeded = seeding.seed_postgres(dsn, shape, password_hash, now)
            service.settle_postgres(url)
        print(f"[{kind}] seeded: {seeded.describe()}", flush=True)
        sizes = (
            seeding.sqlite_sizes(database_file) if kind == "sqlite" else seeding.postgres_sizes(dsn)
        )
        extra["seeding"] = seeded.describe()
        extra["sizes"] = sizes
        extra["bytes_per_account"] = sizes["accounts"] / shape.accounts
        sessions = shape.live_sessions + shape.expired_sessions + shape.crowded_sessions
        extra["bytes_per_session"] = sizes["sessions"] / sessions
        extra["bytes_per_audit_row"] = sizes["audit_log"] / shape.audit_rows

        with service.serving(env, args.workers, data_dir) as server:
            # Token holders spread over the million, so their rows are all over the indexes.
            step = max(1, (shape.accounts - 3) // args.tokens)
            holders = [seeding.email_of(3 + n * step) for n in range(args.tokens)]
            tokens = _lines(data_dir / "tokens.txt", service.sign_in(server.url, holders))
            logins = _lines(
                data_dir / "logins.txt",
                [seeding.email_of(3 + n * (shape.accounts - 3) // 2000) for n in range(2000)],
            )
            [crowded] = service.sign_in(server.url, [seeding.email_of(seeding.CROWDED_ID)])
            [admin] = service.sign_in(server.url, [seeding.email_of(seeding.ADMIN_ID)])
            if kind == "postgresql":
                service.settle_postgres(url)

            print(f"[{kind}] token checks at scale", flush=True)
            checks_load = _checks(server.url, tokens, args.seconds)
            checks = _trial(limits.ceiling, checks_load, args, server)
            rows.append(
                checks.row(kind, "token checks, 32 conn", "ceiling", SCALE_CHECKS, checks_load)
            )
            rows.append(
                _against_quiet(kind, "token checks against 2,000 accounts", checks, quiet_checks)
            )

            print(f"[{kind}] the purge of the expired sessions, token checks running", flush=True)
            during, took, said = purge_during_checks(
                env, data_dir, _checks(server.url, tokens, max(2.0, args.seconds / 2))
            )
            rows.append(
                Row(
                    kind,
                    "purge: token checks",
                    during,
                    "quiet checks",
                    checks.measurement.rate,
                    Target(min_fraction=0.0, max_p99_ms=2 * checks.measurement.p99_ms),
                )
            )
            extra["purge"] = f"{said} in {took:.0f} s"

            print(f"[{kind}] forward-auth at scale", flush=True)
            verify_load = _checks(server.url, tokens, args.seconds, "/auth/verify")
            verify = _trial(limits.ceiling, verify_load, args, server)
            rows.append(
                verify.row(kind, "forward-auth, session, 32 conn", "ceiling", None, verify_load)
            )

            print(f"[{kind}] logins at scale", flush=True)
            login_load = _logins(server.url, logins, args.seconds)
            signins = _trial(limits.hash_bound, login_load, args, server)
            rows.append(signins.row(kind, "logins, 8 conn", "hash bound", None, login_load))
            rows.append(
                _against_quiet(kind, "logins against 2,000 accounts", signins, quiet_logins)
            )

            print(f"[{kind}] the lists, a page each", flush=True)
            middle = cursor_of(shape.accounts // 2)
            lists = {
                "session list (1,001 sessions), first page": ("/auth/sessions?limit=100", crowded),
                "user list, first page": ("/auth/admin/users?limit=100", admin),
                "user list, a page at the middle": (
                    f"/auth/admin/users?limit=100&cursor={middle}",
                    admin,
                ),
                "audit of one user": (
                    f"/auth/admin/audit?user={seeding.email_of(shape.accounts // 3)}&limit=100",
                    admin,
                ),
                "audit, newest page": ("/auth/admin/audit?limit=100", admin),
            }
            for name, (path, token) in lists.items():
                holder = _lines(data_dir / "list-token.txt", [token])
                load = Load(
                    server.url,
                    "get.lua",
                    LIST_CONNECTIONS,
                    args.seconds,
                    {"BENCH_PATH": path, "BENCH_TOKENS": str(holder)},
                )
                measurement, cpu = measure(load, args.warmup, server)
                rows.append(
                    Row(
                        kind,
                        f"{name}, {LIST_CONNECTIONS} conn",
                        measurement,
                        "",
                        None,
                        cpu_ms=cpu.server,
                    )
                )
            extra["rss_mib_per_worker"] = {
                str(pid): round(service.rss_mib(pid), 1) for pid in server.worker_pids()
            }
    extra["ceilings"] = [m.rate for m, _ in limits.ceilings]
    extra["hash_bounds"] = limits.hash_bounds
    extra["quiet"] = {
        "token_checks": quiet_checks.measurement.rate,
        "token_checks_fraction": quiet_checks.fraction,
        "token_checks_p99_ms": quiet_checks.measurement.p99_ms,
        "logins": quiet_logins.measurement.rate,
        "logins_fraction": quiet_logins.fraction,
    }
    return rows, extra


def _against_quiet(kind: str, name: str, at_scale: Trial, quiet: Trial) -> Row:
    """At scale against quiet, as fractions of their own limits: the quiet fraction
    times this run's limit is what the quiet database would have served here."""
    return Row(
        kind,
        name,
        at_scale.measurement,
        "quiet's share of the limit",
        quiet.fraction * at_scale.limit,
        Target(min_fraction=AS_QUIET, max_p99_ms=float("inf")),
    )


RESULTS = Path(__file__).parent / "results" / "scale.json"


def main(
    args: argparse.Namespace,
    kinds: list[str],
    skipped: dict[str, str],
    workdir: Path,
    started: datetime,
) -> int:
    """Every database's scale run; one table; bench/results/scale.json. Exits as the
    quiet bench does: 1 for an invalid run, 2 for a missed target."""
    rows: list[Row] = []
    figures: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        kind_rows, figures[kind] = scale_database(kind, args, workdir)
        rows += kind_rows
    rss_ok = all(
        mib < RSS_LIMIT_MIB for f in figures.values() for mib in f["rss_mib_per_worker"].values()
    )
    notes = {
        **{f"seeding, {kind}": f["seeding"] for kind, f in figures.items()},
        **{
            f"size, {kind}": f"{f['bytes_per_account']:,.0f} bytes an account, "
            f"{f['bytes_per_session']:,.0f} a session, {f['bytes_per_audit_row']:,.0f} an "
            f"audit row, with their indexes ({sum(f['sizes'].values()) / 2**30:.2f} GiB in all)"
            for kind, f in figures.items()
        },
        **{f"purge, {kind}": f["purge"] for kind, f in figures.items()},
        **{
            f"quiet, {kind}": f"2,000 accounts: token checks {q['token_checks']:,.0f} req/s "
            f"({q['token_checks_fraction']:.0%} of the ceiling, p99 "
            f"{q['token_checks_p99_ms']:.2f} ms), logins {q['logins']:.1f}/s "
            f"({q['logins_fraction']:.0%} of the hash bound)"
            for kind, f in figures.items()
            for q in [f["quiet"]]
        },
        **{
            f"RSS per worker, {kind}": ", ".join(
                f"{mib:.0f} MiB" for mib in f["rss_mib_per_worker"].values()
            )
            + f" (target < {RSS_LIMIT_MIB} MiB: {'ok' if rss_ok else 'MISSED'})"
            for kind, f in figures.items()
        },
        **{f"skipped {kind}": reason for kind, reason in skipped.items()},
        "measured": f"{started:%Y-%m-%d %H:%M} UTC, {args.seconds:g} s per run, "
        f"{args.repeats} runs of each bracketed figure, {args.workers} workers",
    }
    printed = table(rows, notes)
    print()
    print(printed)
    write_json(
        RESULTS,
        {
            "started": started.isoformat(),
            "shape": asdict(shape_of(args)),
            "figures": figures,
            "rows": [row.as_dict() for row in rows],
            "valid": all_valid(rows),
            "targets_met": all(row.met is not False for row in rows) and rss_ok,
            "table": printed,
        },
    )
    print(f"\nwritten to {RESULTS}")
    if not all_valid(rows):
        return 1
    return 0 if all(row.met is not False for row in rows) and rss_ok else 2
