"""What metrics and access lines cost the token check: the same service, side by side.

    .venv/bin/python -m bench.metrics_cost [--seconds 10] [--repeats 3]

One SQLite database and one secret, served at once by ``portcullis serve --workers 2``
in three configurations; the token check (``GET /auth/profile``, 32 connections) runs
against each in turn, round after round, so the machine's drift (several percent a
minute here) falls on all three alike. Prints the median of each and its share of the
quiet one, and what each step costs: the median over the rounds of its ratio to the
configuration before it in the same round.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import statistics
import tempfile
from pathlib import Path

from bench import service
from bench.harness import Load, run_wrk

VARIANTS = {
    "metrics off, access lines off": {"PORTCULLIS_ACCESS_LOG": "false"},
    "metrics off, access lines on": {},
    "metrics on, access lines on": {"PORTCULLIS_METRICS_TOKEN": "bench"},
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.metrics_cost")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=256)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="portcullis-metrics-bench-") as work:
        data_dir = Path(work)
        env = service.service_env(data_dir, f"sqlite:///{data_dir / 'portcullis.db'}")
        env["PORTCULLIS_LOG_FORMAT"] = "json"
        service.migrate(env, data_dir)
        logins = service.seed(env, args.tokens)
        with contextlib.ExitStack() as stack:
            urls = {}
            for name, extra in VARIANTS.items():
                port = service.free_port()
                log = data_dir / f"serve-{port}.log"
                command = service.serve_command(port, 2)
                server = stack.enter_context(
                    service.running(command, {**env, **extra}, port, 2, data_dir, log)
                )
                urls[name] = server.url
            tokens = service.sign_in(next(iter(urls.values())), logins)
            (data_dir / "tokens.txt").write_text("\n".join(tokens) + "\n")
            report(urls, data_dir / "tokens.txt", args)


def report(urls: dict[str, str], tokens: Path, args: argparse.Namespace) -> None:
    checks = {"BENCH_PATH": "/auth/profile", "BENCH_TOKENS": str(tokens)}
    rates: dict[str, list[float]] = {name: [] for name in urls}
    p99s: dict[str, list[float]] = {name: [] for name in urls}
    for url in urls.values():  # warm every worker before anything is measured
        run_wrk(Load(url, "get.lua", 32, 2, checks))
    for round_ in range(args.repeats):
        for name, url in urls.items():
            measured = run_wrk(Load(url, "get.lua", 32, args.seconds, checks))
            if not measured.valid:
                raise SystemExit(f"{name}: answers outside 2xx or socket errors")
            rates[name].append(measured.rate)
            p99s[name].append(measured.p99_ms)
            print(f"round {round_ + 1} {name}: {measured.rate:,.0f} req/s", flush=True)
    names = list(urls)
    quiet = statistics.median(rates[names[0]])
    for name in names:
        rate = statistics.median(rates[name])
        p99 = statistics.median(p99s[name])
        print(f"{name}: {rate:,.0f} req/s ({rate / quiet:.1%}), p99 {p99:.2f} ms")
    # What a change costs, round by round: each round's servers ran seconds apart, at
    # most, so the machine's drift (10 % between rounds here) cancels in their ratio.
    for before, after in itertools.pairwise(names):
        ratios = [b / a for a, b in zip(rates[before], rates[after], strict=True)]
        shown = ", ".join(f"{r:.1%}" for r in ratios)
        print(f"{after} / {before}: median {statistics.median(ratios):.1%} ({shown})")


if __name__ == "__main__":
    main()
