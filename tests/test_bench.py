"""The benchmark harness's own logic: reading wrk, judging runs, printing. No timing."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from bench.harness import (
    CpuReading,
    CpuSplit,
    Load,
    Measurement,
    Row,
    Target,
    all_valid,
    cpu_split,
    cpu_ticks,
    idle_ticks,
    merged_p99_ms,
    parse_wrk,
    stolen_share,
    table,
    task_stat,
    write_json,
)

WRK_OUTPUT = """Running 5s test @ http://127.0.0.1:8000
  1 threads and 32 connections
BENCH_JSON {"requests":50000,"duration_us":5000000,"non2xx":0,"connect":0,"read":0,\
"write":0,"timeout":0,"p50_us":1500,"p90_us":3000,"p99_us":8000,"max_us":12000}
"""


def measurement(**changes: object) -> Measurement:
    values: dict[str, object] = {
        "requests": 50000,
        "seconds": 5.0,
        "non2xx": 0,
        "socket_errors": 0,
        "p50_ms": 1.5,
        "p90_ms": 3.0,
        "p99_ms": 8.0,
        "max_ms": 12.0,
    }
    values.update(changes)
    return Measurement(**values)  # type: ignore[arg-type]


NO_CPU = CpuSplit(hashing=0, workers=0, database=0, load_generator=0, rest=0, idle=0)


class TestParsing:
    def test_reads_the_done_hooks_line(self) -> None:
        m = parse_wrk(WRK_OUTPUT)
        assert m == measurement()
        assert m.rate == 10000
        assert m.valid

    def test_socket_errors_are_summed(self) -> None:
        output = WRK_OUTPUT.replace('"read":0', '"read":2').replace('"timeout":0', '"timeout":1')
        assert parse_wrk(output).socket_errors == 3

    def test_output_without_the_line_is_an_error(self) -> None:
        with pytest.raises(ValueError, match="BENCH_JSON"):
            parse_wrk("Running 5s test\nunable to connect\n")


class TestValidity:
    def test_a_single_non_2xx_answer_invalidates_the_run(self) -> None:
        bad = measurement(non2xx=1)
        assert not bad.valid
        assert bad.errors == 1
        row = Row("sqlite", "token checks", bad, "ceiling", 100.0, Target(0.25, 10))
        assert row.met is False
        assert "INVALID" in table([row])
        assert not all_valid([Row("sqlite", "ok", measurement(), "", None), row])

    def test_socket_errors_invalidate_too(self) -> None:
        assert not measurement(socket_errors=4).valid

    def test_an_empty_run_is_invalid(self) -> None:
        assert not measurement(requests=0).valid


class TestTargets:
    def test_met_when_fraction_and_p99_hold(self) -> None:
        row = Row("sqlite", "checks", measurement(), "ceiling", 20000.0, Target(0.25, 10))
        assert row.fraction == 0.5
        assert row.met is True

    def test_missed_on_a_slow_p99(self) -> None:
        row = Row(
            "sqlite", "checks", measurement(p99_ms=10.0), "ceiling", 20000.0, Target(0.25, 10)
        )
        assert row.met is False

    def test_missed_on_a_low_fraction(self) -> None:
        row = Row("sqlite", "checks", measurement(), "ceiling", 50000.0, Target(0.25, 10))
        assert row.met is False

    def test_rows_without_a_target_are_not_judged(self) -> None:
        assert Row("sqlite", "ceiling", measurement(), "", None).met is None


class TestReport:
    def test_table_has_a_row_per_run_and_the_extra_lines(self) -> None:
        rows = [
            Row("sqlite", "ceiling", measurement(), "", None, cpu_ms=0.03),
            Row("sqlite", "checks", measurement(), "ceiling", 20000.0, Target(0.25, 10)),
        ]
        text = table(rows, {"hash bound": "97.0 logins/s"})
        lines = text.splitlines()
        assert lines[0].startswith("| database | run | req/s")
        assert lines[2] == "| sqlite | ceiling | 10,000 | 1.50 | 8.00 | 0 |  |  |  | 0.030 |"
        assert "| 50% of ceiling | >=25%, p99<10ms | ok |" in lines[3]
        assert lines[-1] == "- hash bound: 97.0 logins/s"

    def test_json_carries_every_figure(self, tmp_path: Path) -> None:
        row = Row("postgresql", "logins", measurement(requests=450), "hash bound", 100.0)
        path = tmp_path / "results" / "latest.json"
        write_json(path, {"rows": [row.as_dict()]})
        saved = json.loads(path.read_text())["rows"][0]
        assert saved["database"] == "postgresql"
        assert saved["rate"] == 90.0
        assert saved["fraction"] == 0.9
        assert saved["valid"] is True
        assert saved["met"] is None


def test_wrk_command_uses_our_lua_script() -> None:
    load = Load("http://127.0.0.1:1", "login.lua", 8, 5)
    command = load.command("/usr/bin/wrk")
    assert command[:4] == ["/usr/bin/wrk", "-t1", "-c8", "-d5s"]
    assert Path(command[command.index("-s") + 1]).is_file()


def test_each_run_is_judged_against_the_limits_on_either_side_and_the_median_reported() -> None:
    from bench.__main__ import bracketed

    limits = iter([100.0, 300.0, 100.0, 100.0])  # measured before, between and after
    runs = iter([measurement(requests=500), measurement(requests=450), measurement(requests=400)])
    chosen, trials = bracketed(lambda: next(limits), lambda: (next(runs), NO_CPU), 3)
    # 100 req/s against a mean limit of 200, 90 against 200, 80 against 100.
    assert [round(trial.fraction, 2) for trial in trials] == [0.5, 0.45, 0.8]
    assert chosen is trials[0]  # the median fraction, 0.5


def test_a_run_with_errors_is_reported_in_place_of_the_median() -> None:
    from bench.__main__ import bracketed

    runs = iter([measurement(), measurement(non2xx=1), measurement()])
    chosen, trials = bracketed(lambda: 10_000.0, lambda: (next(runs), NO_CPU), 3)
    assert chosen is trials[1]
    assert not chosen.measurement.valid


class TestReach:
    def test_closed_loop_connections_cannot_average_under_connections_over_the_limit(
        self,
    ) -> None:
        row = Row(
            "sqlite", "logins", measurement(), "hash bound", 32.0, Target(0.9, 250), connections=8
        )
        assert row.least_mean_ms == 250.0
        assert row.p99_reachable is False

    def test_an_unreachable_p99_is_named_in_the_verdict(self) -> None:
        slow = measurement(requests=150, p50_ms=260.0, p99_ms=400.0)  # 30 logins/s
        row = Row("sqlite", "logins", slow, "hash bound", 31.0, Target(0.9, 250), connections=8)
        assert row.met is False
        assert "| MISSED: p99 out of reach here |" in table([row])
        assert row.as_dict()["p99_target_reachable"] is False
        assert row.as_dict()["least_mean_ms"] == 258.1

    def test_a_reachable_miss_is_a_plain_miss(self) -> None:
        slow = measurement(requests=400, p99_ms=400.0)  # 80 logins/s, p99 over the target
        row = Row("sqlite", "logins", slow, "hash bound", 90.0, Target(0.9, 250), connections=8)
        assert row.p99_reachable is True
        assert row.met is False
        assert "| MISSED |" in table([row])

    def test_without_connections_reach_is_not_judged(self) -> None:
        row = Row("sqlite", "storm", measurement(), "quiet checks", 9000.0, Target(1 / 3, 50))
        assert row.least_mean_ms is None
        assert row.p99_reachable is None


class TestStolenTime:
    PROC_STAT = (
        "cpu  53864 17317 12432 42347 749 0 2979 13753 0 0\n"
        "cpu0 26900 8600 6200 21100 370 0 1500 6870 0 0\n"
        "intr 123\n"
    )

    def test_reads_steal_and_the_total_from_the_first_line(self) -> None:
        assert cpu_ticks(self.PROC_STAT) == (
            13753,
            53864 + 17317 + 12432 + 42347 + 749 + 2979 + 13753,
        )

    def test_the_share_is_stolen_ticks_over_all_ticks_between_readings(self) -> None:
        assert stolen_share((100, 1000), (150, 1200)) == 0.25
        assert stolen_share((100, 1000), (100, 1000)) is None

    def test_other_text_is_refused(self) -> None:
        with pytest.raises(ValueError):
            cpu_ticks("intr 123\n")


class TestWhereTheCpuWent:
    def test_reads_idle_and_iowait_and_the_total_from_the_first_line(self) -> None:
        assert idle_ticks(TestStolenTime.PROC_STAT) == (
            42347 + 749,
            53864 + 17317 + 12432 + 42347 + 749 + 2979 + 13753,
        )
        with pytest.raises(ValueError):
            idle_ticks("intr 123\n")

    def test_a_thread_name_with_spaces_and_parentheses_is_read_whole(self) -> None:
        # pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
        # utime stime ...
        text = "4242 (odd) name (x)) S 1 4242 4242 0 -1 4194560 10 0 0 0 1234 56 0 0 25 5 1"
        assert task_stat(text) == ("odd) name (x)", 1234 + 56)

    def test_the_parts_add_up_to_the_machine_per_request(self) -> None:
        before = CpuReading(hashing=10, workers=2, database=1, busy=20, elapsed=30)
        # 100 requests in 1 s on 2 cores: 2 s of CPU time, 20 ms a request.
        after = CpuReading(hashing=11.8, workers=2.1, database=1.05, busy=21.99, elapsed=32)
        split = cpu_split(before, after, load_generator_seconds=0.01, requests=100)
        assert split.hashing == pytest.approx(18.0)
        assert split.workers == pytest.approx(1.0)
        assert split.database == pytest.approx(0.5)
        assert split.load_generator == pytest.approx(0.1)
        assert split.rest == pytest.approx(0.3)
        assert split.idle == pytest.approx(0.1)
        assert split.server == pytest.approx(19.0)
        assert split.total == pytest.approx(20.0)

    def test_a_rest_below_zero_from_tick_rounding_shows_as_zero(self) -> None:
        before = CpuReading(hashing=0, workers=0, database=0, busy=0, elapsed=0)
        after = CpuReading(hashing=1.0, workers=0.02, database=0, busy=1.01, elapsed=1.01)
        split = cpu_split(before, after, load_generator_seconds=0, requests=10)
        assert split.rest == 0.0
        assert split.idle == 0.0

    def test_the_median_login_run_is_described_beside_one_verify(self) -> None:
        from bench.__main__ import where_login_cpu_went

        runs = [
            CpuSplit(hashing=20, workers=1.5, database=0.7, load_generator=0.1, rest=0.2, idle=0),
            CpuSplit(hashing=19, workers=1.2, database=0.6, load_generator=0.1, rest=0.1, idle=0),
        ]
        trials = {
            "login_cpu_ms": [dataclasses.asdict(run) for run in runs],
            "login_verify_ms": [20.5, 19.1],
            "login_cpu_median": 1,
        }
        line = where_login_cpu_went("postgresql", trials)
        assert line.startswith(
            "21.00 ms of the machine's CPU time: hashing threads 19.00, "
            "event loops and hash service 1.20,"
        )
        assert "PostgreSQL 0.60" in line
        assert line.endswith("one verify cost 19.10 ms in the hash bounds around the run")
        assert "PostgreSQL" not in where_login_cpu_went("sqlite", trials)


class TestMergedTail:
    """The purge's p99 is over every answer of its runs, merged from their tails."""

    @staticmethod
    def run(requests: int, tail_from: float, step: float) -> Measurement:
        tail = tuple(tail_from + step * n for n in range(100))  # p90.0 ... p99.9
        return measurement(requests=requests, p99_ms=tail[90], tail_ms=tail)

    def test_one_run_merges_to_its_own_p99(self) -> None:
        run = self.run(50000, 1.0, 0.1)
        assert merged_p99_ms([run]) == pytest.approx(run.p99_ms)

    def test_a_slow_run_moves_the_merged_p99_by_its_share_of_answers(self) -> None:
        quiet = [self.run(100000, 1.0, 0.01) for _ in range(9)]
        slow = self.run(100000, 50.0, 1.0)
        # A hundredth of the million answers is the slow run's tenth above its p90: the
        # merged p99 is that p90, far above the quiet runs' tails and below its own p99.
        assert merged_p99_ms([*quiet, slow]) == 50.0
        assert merged_p99_ms([*quiet, self.run(10000, 50.0, 1.0)]) < 2.0  # a tenth as many
        assert merged_p99_ms(quiet) == pytest.approx(1.9)

    def test_without_every_tail_the_worst_p99_is_taken(self) -> None:
        runs = [measurement(p99_ms=8.0), self.run(50000, 1.0, 0.01)]
        assert merged_p99_ms(runs) == 8.0
        assert merged_p99_ms([measurement(p99_ms=8.0), measurement(p99_ms=30.0)]) == 30.0

    def test_the_tail_is_read_from_wrk_and_kept_out_of_the_json(self, tmp_path: Path) -> None:
        tail = ",".join(str(1000 + n) for n in range(100))
        m = parse_wrk(WRK_OUTPUT.replace('"max_us":12000}', f'"max_us":12000,"tail_us":[{tail}]}}'))
        assert m.tail_ms[0] == 1.0 and m.tail_ms[-1] == 1.099 and len(m.tail_ms) == 100
        row = Row("sqlite", "purge", m, "ceiling", 20000.0, Target(0.0, 20.0))
        assert "tail_ms" not in row.as_dict()
