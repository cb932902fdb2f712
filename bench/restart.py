"""The steady load while the server process is restarted: `bench/run.py --scenarios
steady-restart` (`make bench-restart`). See docs/performance.md, "Load with a restart".

One round per signal: SIGTERM (the server drains, chatserver/realtime/lifecycle.py) and SIGKILL
(a crash). Partway through the load (bench/restart.mjs) the server process gets the signal and
a new one is started on the same port and database. The clients reconnect, resume and resend
what was not acknowledged. Afterwards the database is read directly: every acknowledged
client_id must be stored exactly once (lost = acknowledged but not stored, doubled = stored
more than once).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
from collections import Counter
from typing import Any

from harness import ROOT, Progress, Server, Tell, run_generator

NAME = "steady-restart"
SIGNALS = {"term": signal.SIGTERM, "kill": signal.SIGKILL}
FULL = {"visitors": 1000, "agents": 20, "rate": 500, "seconds": 45, "restartAt": 15,
        "concurrency": 50, "drainSeconds": 60, "ackTimeoutMs": 60000}
QUICK = {"visitors": 20, "agents": 2, "rate": 50, "seconds": 3, "restartAt": 1,
         "concurrency": 10, "drainSeconds": 20, "ackTimeoutMs": 60000}


def restart(server: Server, how: str) -> dict[str, Any]:
    """Signal the server process, wait for it to end, start a new one (blocking)."""
    assert server.process is not None
    start = time.monotonic()
    server.process.send_signal(SIGNALS[how])
    code = server.process.wait(60)
    stopped = time.monotonic()
    server.start()
    return {"exit_code": code, "stop_seconds": stopped - start,
            "downtime_seconds": time.monotonic() - start}


async def run_restart(how: str, params: dict[str, Any], args: argparse.Namespace,
                      database_url: str | None) -> dict[str, Any]:
    env = dict(item.split("=", 1) for item in args.env)
    server = Server("ours", env=env, database_url=database_url, nice=args.nice)
    progress = Progress(f"restart:{how}", not args.no_progress)
    restarted: dict[str, Any] = {}

    async def on_mark(name: str, tell: Tell) -> None:
        if name != "restart":
            return
        progress.say(f"SIG{how.upper()} to the server")
        tell({"event": "stopping"})
        restarted.update(await asyncio.to_thread(restart, server, how))
        tell({"event": "up"})
        progress.say(f"stopped in {restarted['stop_seconds']:.1f} s (exit "
                     f"{restarted['exit_code']}), answering again after "
                     f"{restarted['downtime_seconds']:.1f} s")

    try:
        await asyncio.to_thread(server.prepare, params["agents"])
        server.start()
        config = {"url": server.url, "agentTokens": server.agent_tokens,
                  "noticeVersion": server.notice_version(), **params}
        result, _marks = await run_generator(server, config, progress, script="restart.mjs",
                                             on_mark=on_mark)
        acked = result.pop("acked_keys")
        result.update(await check_database(server, acked))
    finally:
        log = server.stop()
    if not restarted:
        raise SystemExit("bench: the server was not restarted (the load ended first)")
    result.update({"target": "ours", "signal": how, "restart": restarted, "params": params,
                   "connections": params["visitors"] + params["agents"]})
    # A killed server writes no shutdown lines; tracebacks and errors are what matter.
    lines = log.splitlines()
    errors = [line for line in lines if "Traceback" in line or "ERROR" in line]
    result["server_errors"] = errors[:5]
    # The first traceback in full, to tell what failed.
    first = next((i for i, line in enumerate(lines) if "Traceback" in line), None)
    result["server_traceback"] = lines[first:first + 40] if first is not None else []
    return result


async def check_database(server: Server, acked: list[str]) -> dict[str, Any]:
    """Every acknowledged client_id stored exactly once, read from the database itself."""
    import sys

    sys.path.insert(0, str(ROOT))
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from chatserver.settings import load_settings

    url = load_settings(environ=server.our_env()).database_url
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(text(
                "SELECT text, client_key FROM message WHERE text LIKE 'k%'"))).all()
    finally:
        await engine.dispose()
    stored: Counter[str] = Counter()
    wrong_key = 0
    for body, client_key in rows:
        key = body.split(" ", 1)[0]
        stored[key] += 1
        if not (client_key or "").endswith(":" + key):
            wrong_key += 1
    lost = sorted(key for key in set(acked) if stored[key] == 0)
    doubled = sorted(key for key, count in stored.items() if count > 1)
    return {"stored": sum(stored.values()), "lost": len(lost), "doubled": len(doubled),
            "lost_keys": lost[:10], "doubled_keys": doubled[:10],
            "stored_not_acked": len(set(stored) - set(acked)), "wrong_client_key": wrong_key}


def _ms(summary: dict[str, Any]) -> str:
    values = [summary["p50"], summary["p99"]]
    return "/".join("-" if v is None else f"{v:.0f}" for v in values)


def table(results: list[dict[str, Any]]) -> str:
    head = (f"{'signal':<6} {'sent':>6} {'acked':>6} {'lost':>4} {'doubled':>7} {'resent':>6} "
            f"{'down s':>6} {'recov s':>7} {'ack p50/p99 ms: before':>23} {'during':>11} "
            f"{'after':>9}")
    lines = [head, "-" * len(head)]
    for r in results:
        lat = r["latency"]
        recovery = "-" if r["recovery_s"] is None else f"{r['recovery_s']:.1f}"
        lines.append(
            f"{r['signal']:<6} {r['sent']:>6} {r['acked']:>6} {r['lost']:>4} {r['doubled']:>7} "
            f"{r['resent']:>6} {r['restart']['downtime_seconds']:>6.1f} {recovery:>7} "
            f"{_ms(lat['before']['ack']):>23} {_ms(lat['during']['ack']):>11} "
            f"{_ms(lat['after']['ack']):>9}")
    return "\n".join(lines)


def failures(result: dict[str, Any]) -> int:
    """What makes the run fail: acknowledged messages lost or doubled, refusals, no recovery."""
    return (result["lost"] + result["doubled"] + result["failed"] + result["errors"]
            + result["mismatched"] + result["unacked"] + (result["recovery_s"] is None))
