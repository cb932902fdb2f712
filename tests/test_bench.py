"""The benchmark tooling works (bench/, docs/performance.md): a few seconds of its quick mode
against chatserver and the bare relay. No timing is asserted; nothing may be lost."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None,
                    reason="the load generator needs Node.js and npm")
def test_quick_benchmark_loses_nothing_and_writes_json(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--no-progress",
         "--scenarios", "steady,burst", "--targets", "ours,bare",
         "--set", "steady.seconds=1", "--output", str(output)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    report = json.loads(output.read_text())
    results = {(r["scenario"], r["target"]): r for r in report["results"]}
    assert set(results) == {("steady", "ours"), ("steady", "bare"), ("burst", "ours"),
                            ("burst", "bare")}
    for result in results.values():
        assert result["lost"] == 0 and result["errors"] == 0, result
        assert result["delivered"] == result["sent"] > 0
        assert result["server_errors"] == []
    steady = results[("steady", "ours")]
    assert steady["v2a"]["count"] > 0 and steady["a2v"]["count"] > 0
    assert steady["duplicates"] == 0
    assert "steady_p99_ours_over_bare" in report["ratios"]
    # The printed table has a row per scenario and target.
    assert run.stdout.count("steady ") == 2 and run.stdout.count("burst ") == 2


def test_operation_costs_are_printed_for_both_servers() -> None:
    """bench/op_cost.py (server CPU per operation) runs its steps against chatserver and the
    tuned relay and prints a figure for each; its clients are python-socketio's."""
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "op_cost.py"), "--n", "10", "--rounds", "1"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    rows = {line.split("  ")[0]: line.split()[-2:] for line in run.stdout.splitlines()
            if line.startswith(("connect", "open", "claim", "agent message", "per visitor"))}
    assert set(rows) == {"connect", "open", "claim", "agent message", "per visitor"}, run.stdout
    assert all(float(value) >= 0 for values in rows.values() for value in values)


@pytest.mark.postgres
def test_operation_costs_on_postgresql_count_its_processes_too(postgres_server: Any) -> None:
    """op_cost.py --postgres: chatserver on a throw-away PostgreSQL, with PostgreSQL's own CPU
    per operation in a column of its own. Every step writes or reads, so the column cannot be
    0 over all of them (one step alone can: /proc counts CPU in 10 ms ticks)."""
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "op_cost.py"), "--n", "30", "--rounds", "1",
         "--targets", "ours", "--postgres"],
        capture_output=True, text=True, timeout=180, cwd=ROOT,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    lines = run.stdout.splitlines()
    assert lines[1].split() == ["operation", "ours", "PostgreSQL"], run.stdout
    rows = {line.split("  ")[0]: [float(v) for v in line.split()[-2:]] for line in lines
            if line.startswith(("open", "claim", "agent message"))}
    assert set(rows) == {"open", "claim", "agent message"}, run.stdout
    assert all(ours >= 0 and database >= 0 for ours, database in rows.values()), run.stdout
    assert sum(database for _ours, database in rows.values()) > 0, run.stdout


@pytest.mark.postgres
@pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None,
                    reason="the load generator needs Node.js and npm")
def test_quick_burst_on_postgresql_loses_nothing(tmp_path: Path, postgres_server: Any) -> None:
    """The burst (opens, claims, answers: the queue's hot path) on PostgreSQL, as on SQLite
    above. `postgres_server` only skips the test where PostgreSQL cannot run; the benchmark
    starts its own."""
    output = tmp_path / "results.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--no-progress",
         "--postgres", "--scenarios", "burst", "--targets", "ours", "--repeat", "2",
         "--output", str(output)],
        capture_output=True, text=True, timeout=180, cwd=ROOT,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    report = json.loads(output.read_text())
    assert report["database"] == "postgresql"
    assert [result["round"] for result in report["results"]] == [1, 2]
    for result in report["results"]:  # each run on a database of its own
        assert result["scenario"] == "burst" and result["lost"] == 0 and result["errors"] == 0
        assert result["delivered"] == result["sent"] > 0 and result["server_errors"] == []
    (median,) = report["medians"]
    assert median["runs"] == 2 and len(median["runs_p99"]) == 2
    assert "burst    ours (med)" in run.stdout


def test_medians_of_repeated_runs_take_each_figure_on_its_own() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    import run as bench_run

    def result(target: str, p99: float, cpu: float, lost: int = 0) -> dict[str, Any]:
        latency = {"p50": p99 / 4, "p95": p99 / 2, "p99": p99}
        return {"scenario": "burst", "target": target, "connections": 220, "v2a": latency,
                "a2v": {**latency, "p99": 2 * p99}, "server_cpu": cpu, "lost": lost}

    runs = [result("ours", 50, 0.9), result("ours", 200, 0.7, lost=1), result("ours", 60, 0.8),
            result("bare-tuned", 10, 0.3)]
    (median,) = bench_run.medians(runs)  # a target that ran once gets no row
    assert median["target"] == "ours" and median["runs"] == 3
    assert median["v2a"] == {"p50": 15, "p95": 30, "p99": 60}
    assert median["a2v"]["p99"] == 120 and median["server_cpu"] == 0.8 and median["lost"] == 1
    assert median["runs_p99"] == [[50, 100], [200, 400], [60, 120]]
    assert bench_run._median([1.0, 4.0]) == 2.5


@pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None,
                    reason="the load generator needs Node.js and npm")
def test_restart_scenario_loses_and_doubles_no_acknowledged_message(tmp_path: Path) -> None:
    """The steady load while the server is stopped with SIGTERM (drains) and, in a second round,
    SIGKILL: every acknowledged message is in the database exactly once."""
    output = tmp_path / "restart.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--no-progress",
         "--scenarios", "steady-restart", "--output", str(output)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    results = {r["signal"]: r for r in json.loads(output.read_text())["results"]}
    assert set(results) == {"term", "kill"}
    assert results["term"]["restart"]["exit_code"] == 0
    assert results["kill"]["restart"]["exit_code"] == -9
    for result in results.values():
        # Read back from the database: none lost, none stored twice, nothing else stored.
        assert result["acked"] == result["sent"] > 0, result
        assert result["lost"] == 0 and result["doubled"] == 0, result
        assert result["stored"] == result["acked"], result
        assert result["wrong_client_key"] == 0 and result["mismatched"] == 0, result
        # Every client came back, resumed, and saw every message meant for it once.
        assert result["reconnects"] >= result["connections"], result
        assert result["undelivered"] == 0 and result["redelivered"] == 0, result
        assert result["failed"] == 0 and result["errors"] == 0, result
        assert result["recovery_s"] is not None
        assert result["server_errors"] == [], result
