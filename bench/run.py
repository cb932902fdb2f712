"""chatserver's benchmark: `make bench`, or `.venv/bin/python bench/run.py [--quick] ...`.

Each scenario starts a fresh server process (chatserver on SQLite in a temporary folder, or on
PostgreSQL with --postgres; then the bare python-socketio relay, bench/bare_relay.py), drives it
with the Node load generator (bench/load.mjs) and prints one table with the ratios to the bare
relay. Results are also written as JSON to bench/results/. See docs/performance.md.

`--repeat N` runs every scenario N times, the targets taking turns (A, B, A, B...), and adds a
row with the median of the runs: one burst's p99 differed more than threefold between two runs of
the same code on the same machine (docs/performance.md, "fifth round").

`--scenarios steady-restart` (not in the default set) runs the steady load against chatserver
while its process is restarted, once with SIGTERM and once with SIGKILL (bench/restart.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import restart  # noqa: E402
from harness import (  # noqa: E402
    BENCH,
    ROOT,
    Progress,
    Server,
    cleanup,
    ensure_generator,
    gc_summary,
    run_generator,
    window,
)

SCENARIOS = ("steady", "idle", "burst", "ramp")
KNOWN = (*SCENARIOS, restart.NAME)
FULL: dict[str, dict[str, Any]] = {
    "steady": {"visitors": 1000, "agents": 20, "rate": 500, "seconds": 60, "concurrency": 50,
               "drainSeconds": 20},
    restart.NAME: restart.FULL,
    "idle": {"visitors": 5000, "agents": 0, "concurrency": 100, "holdSeconds": 30},
    "burst": {"visitors": 200, "agents": 20, "burstSeconds": 1, "drainSeconds": 20},
    "ramp": {"visitors": 1000, "agents": 20, "concurrency": 50, "rampStart": 250,
             "rampStep": 250, "rampStepSeconds": 10, "rampMaxSteps": 40, "p99LimitMs": 100,
             "rampWarmupSeconds": 3, "drainSeconds": 30},
}
QUICK: dict[str, dict[str, Any]] = {
    "steady": {"visitors": 40, "agents": 4, "rate": 100, "seconds": 2, "concurrency": 20,
               "drainSeconds": 10},
    restart.NAME: restart.QUICK,
    "idle": {"visitors": 200, "agents": 0, "concurrency": 50, "holdSeconds": 1},
    "burst": {"visitors": 30, "agents": 4, "burstSeconds": 1, "drainSeconds": 10},
    "ramp": {"visitors": 40, "agents": 4, "concurrency": 20, "rampStart": 100, "rampStep": 200,
             "rampStepSeconds": 1, "rampMaxSteps": 3, "p99LimitMs": 100, "rampWarmupSeconds": 0,
             "drainSeconds": 10},
}


def _cpu_model() -> str:
    """The processor's name and clock: runs on two machines compare only when these match
    (one session's machine did the same work 1.5 times slower than another's)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor()
    fields = dict(line.split(":", 1) for line in lines if ":" in line)
    name = {key.strip(): value.strip() for key, value in fields.items()}
    return f"{name.get('model name', '?')} {name.get('cpu MHz', '?')} MHz"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short smoke run (seconds)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS),
                        help=f"comma-separated, from {', '.join(KNOWN)} (default: "
                        f"{','.join(SCENARIOS)})")
    parser.add_argument("--signals", default="term,kill",
                        help=f"{restart.NAME}: how the server is stopped, from term, kill "
                        "(default: both, one round each)")
    parser.add_argument("--targets", default="ours,bare",
                        help="ours, bare (the relay as python-socketio ships), bare-tuned "
                        "(the relay with chatserver's [performance] defaults); default ours,bare")
    parser.add_argument("--postgres", action="store_true",
                        help="run chatserver on a throw-away PostgreSQL instead of SQLite")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment for chatserver, such as "
                        "CHATSERVER_PERFORMANCE__WEBSOCKET_COMPRESSION=true (repeatable)")
    parser.add_argument("--set", action="append", default=[], metavar="SCENARIO.KEY=NUMBER",
                        help="override a scenario parameter, such as steady.seconds=20")
    parser.add_argument("--output", metavar="FILE", help="JSON results file "
                        "(default: bench/results/TIMESTAMP.json)")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="run each scenario N times, the targets taking turns, and add "
                        "the median of the runs (default 1)")
    parser.add_argument("--label", default="", help="a note stored with the results")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--nice", type=int, default=0,
                        help="run the server and the generator at this niceness, such as -10 "
                        "on a machine that is busy with other work (needs root for < 0)")
    parser.add_argument("--profile", metavar="PREFIX",
                        help="record each server with py-spy while measuring (raw stacks in "
                        "PREFIX-TARGET-SCENARIO.txt; pip install py-spy)")
    return parser


async def run_one(target: str, scenario: str, params: dict[str, Any], args: argparse.Namespace,
                  database_url: str | None) -> dict[str, Any]:
    env = dict(item.split("=", 1) for item in args.env) if target == "ours" else {}
    server = Server("ours" if target == "ours" else "bare", env=env, database_url=database_url,
                    bare_tuned=target == "bare-tuned", nice=args.nice)
    log = ""
    phases: dict[str, float] = {}
    clock = time.monotonic()
    try:
        await asyncio.to_thread(server.prepare, params["agents"])
        phases["prepare"], clock = time.monotonic() - clock, time.monotonic()
        server.start()
        phases["start"], clock = time.monotonic() - clock, time.monotonic()
        await asyncio.sleep(0.5)
        base_rss = server.sample()[1]
        config = {"scenario": scenario, "url": server.url, "agentTokens": server.agent_tokens,
                  "noticeVersion": server.notice_version(), **params}
        progress = Progress(f"{target}:{scenario}", not args.no_progress)
        profile = None
        if args.profile:
            profile = f"{args.profile}-{target}-{scenario}.txt"
        clock = time.monotonic()
        result, marks = await run_generator(server, config, progress, profile)
        phases["generator"], clock = time.monotonic() - clock, time.monotonic()
    finally:
        log = server.stop()
    phases["stop"] = time.monotonic() - clock
    start = marks.get("measure_start", marks.get("held", 0.0))
    end = marks.get("measure_end", marks.get("hold_end", time.monotonic()))
    stats = window(server, start, end)
    gc_stats = gc_summary(server, start, end)
    connections = params["visitors"] + params["agents"]
    result.update({
        "target": target, "server_cpu": stats["cpu"],
        # CPU time per delivered message: steadier than latency on a busy machine.
        "server_cpu_ms_per_message": 1000 * stats["cpu_seconds"] / max(1, result["delivered"]),
        "server_rss_kib": stats["rss_kib"],
        "server_rss_max_kib": stats["rss_max_kib"], "server_base_rss_kib": base_rss,
        "connections": connections,
        "rss_per_connection_kib": (stats["rss_kib"] - base_rss) / max(1, connections),
        "params": params, "phase_seconds": phases, "server_gc": gc_stats,
    })
    errors = [line for line in log.splitlines() if "Traceback" in line or "ERROR" in line]
    result["server_errors"] = errors[:5]
    return result


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _median(values: list[float]) -> float | None:
    ordered = sorted(value for value in values if value is not None)
    if not ordered:
        return None
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


MEDIAN_FIELDS = ("achieved_rate", "highest_sustained_rate", "server_cpu",
                 "rss_per_connection_kib", "server_cpu_ms_per_message")


def medians(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A row per scenario and target that ran more than once: the median of each latency
    percentile and figure over its runs (each taken on its own, so the row need not be one of
    the runs), the losses summed, and each run's p99s in `runs_p99`."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for result in results:
        groups.setdefault((result["scenario"], result["target"]), []).append(result)
    rows = []
    for (scenario, target), runs in groups.items():
        if len(runs) < 2:
            continue
        row: dict[str, Any] = {"scenario": scenario, "target": target, "round": "median",
                               "runs": len(runs), "connections": runs[0]["connections"]}
        for direction in ("v2a", "a2v"):
            row[direction] = {q: _median([r[direction][q] for r in runs])
                              for q in ("p50", "p95", "p99")}
        for name in MEDIAN_FIELDS:
            if any(name in r for r in runs):
                row[name] = _median([r.get(name) for r in runs])
        for name in ("lost", "dropped", "errors"):
            row[name] = sum(r.get(name, 0) for r in runs)
        row["runs_p99"] = [[r["v2a"]["p99"], r["a2v"]["p99"]] for r in runs]
        rows.append(row)
    return rows


def table(results: list[dict[str, Any]]) -> str:
    head = (f"{'scenario':<8} {'target':<16} {'conns':>6} {'msg/s':>7} "
            f"{'v→a p50/p95/p99 ms':>21} {'a→v p50/p95/p99 ms':>21} {'lost':>5} "
            f"{'KB/conn':>8} {'CPU':>5}")
    lines = [head, "-" * len(head)]
    for r in results:
        rate = r.get("achieved_rate") or r.get("highest_sustained_rate")
        v2a, a2v = r["v2a"], r["a2v"]
        lost = r["lost"] + r.get("dropped", 0)
        target = r["target"] + (" (med)" if r.get("round") == "median" else "")
        lines.append(
            f"{r['scenario']:<8} {target:<16} {r['connections']:>6} "
            f"{'-' if rate is None else f'{rate:.0f}':>7} "
            f"{_ms(v2a['p50']) + '/' + _ms(v2a['p95']) + '/' + _ms(v2a['p99']):>21} "
            f"{_ms(a2v['p50']) + '/' + _ms(a2v['p95']) + '/' + _ms(a2v['p99']):>21} "
            f"{lost:>5} {r['rss_per_connection_kib'] * 1.024:>8.1f} {r['server_cpu']:>5.0%}")
        if r.get("round") == "median":
            spread = ", ".join(f"{_ms(v)}/{_ms(a)}" for v, a in r["runs_p99"])
            lines.append(f"{'':<8} {'':<16} p99 v→a / a→v of each run: {spread}")
    return "\n".join(lines)


def ratios(results: list[dict[str, Any]]) -> dict[str, float]:
    def find(scenario: str, target: str) -> dict[str, Any] | None:
        return next((r for r in results if r["scenario"] == scenario and r["target"] == target),
                    None)

    out: dict[str, float] = {}
    for floor in ("bare", "bare-tuned"):
        name = floor.replace("-", "_")
        ours, bare = find("steady", "ours"), find("steady", floor)
        if ours and bare:
            ours_p99 = max(ours["v2a"]["p99"] or 0, ours["a2v"]["p99"] or 0)
            bare_p99 = max(bare["v2a"]["p99"] or 0, bare["a2v"]["p99"] or 0)
            out[f"steady_p99_ours_over_{name}"] = (ours_p99 / bare_p99 if bare_p99
                                                   else float("nan"))
        ours, bare = find("ramp", "ours"), find("ramp", floor)
        if ours and bare and bare["highest_sustained_rate"]:
            out[f"top_rate_ours_over_{name}"] = (ours["highest_sustained_rate"]
                                                 / bare["highest_sustained_rate"])
    return out


async def main_async(args: argparse.Namespace) -> int:
    ensure_generator()
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    for name in scenarios:
        if name not in KNOWN:
            raise SystemExit(f"bench: unknown scenario {name!r}")
    for how in args.signals.split(","):
        if how.strip() and how.strip() not in restart.SIGNALS:
            raise SystemExit(f"bench: unknown signal {how!r} (term, kill)")
    plan = {name: dict((QUICK if args.quick else FULL)[name]) for name in scenarios}
    for item in args.set:
        key, value = item.split("=", 1)
        scenario, param = key.split(".", 1)
        plan[scenario][param] = float(value) if "." in value else int(value)
    database_url = None
    postgres = None
    if args.postgres:
        sys.path.insert(0, str(ROOT))
        from tests.servers import PostgresServer

        postgres = PostgresServer()
        postgres.start()
    results = []
    try:
        for scenario in scenarios:
            if scenario == restart.NAME:  # chatserver only: the bare relay stores nothing
                for how in [h.strip() for h in args.signals.split(",") if h.strip()]:
                    if postgres is not None:
                        database_url = postgres.create_database(f"bench_restart_{how}")
                    results.append(await restart.run_restart(how, plan[scenario], args,
                                                             database_url))
                continue
            for round_ in range(1, max(1, args.repeat) + 1):
                for target in targets:
                    if postgres is not None and target == "ours":
                        database_url = postgres.create_database(f"bench_{scenario}_{round_}")
                    result = await run_one(target, scenario, plan[scenario], args, database_url)
                    result["round"] = round_
                    results.append(result)
    finally:
        cleanup()
        if postgres is not None:
            postgres.stop()
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"), "label": args.label,
        "quick": args.quick, "database": "postgresql" if args.postgres else "sqlite",
        "machine": {"cpus": os.cpu_count(), "cpu": _cpu_model(),
                    "python": platform.python_version(),
                    "platform": platform.platform(), "load_average": os.getloadavg()},
        "env": args.env, "nice": args.nice, "repeat": args.repeat, "results": results,
        "medians": medians([r for r in results if r["scenario"] != restart.NAME]),
    }
    # Ratios from the medians when the runs were repeated, else from the one run.
    report["ratios"] = ratios(report["medians"] or results)
    path = Path(args.output) if args.output else (
        BENCH / "results" / f"{datetime.now(UTC):%Y%m%dT%H%M%S}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1))
    restarts = [r for r in results if r["scenario"] == restart.NAME]
    others = [r for r in results if r["scenario"] != restart.NAME]
    if others:
        print(table(others + report["medians"]))
    if restarts:
        print(restart.table(restarts))
    for name, value in report["ratios"].items():
        print(f"{name}: {value:.2f}")
    lost = sum(r["lost"] + r.get("dropped", 0) + r["errors"] for r in others)
    lost += sum(restart.failures(r) for r in restarts)
    print(f"results: {path}")
    if lost:
        print(f"bench: {lost} messages lost, doubled or failed", file=sys.stderr)
        return 1
    return 0


def main() -> None:
    raise SystemExit(asyncio.run(main_async(_parser().parse_args())))


if __name__ == "__main__":
    main()
