"""Server CPU per operation on the burst's path, one operation at a time.

`.venv/bin/python bench/op_cost.py [--targets ours,bare-tuned] [--n 300] [--rounds 3]`

The burst scenario (bench/run.py) measures latency under a load that saturates the server, so
its figures move with everything else on the machine. This measures what each step of a new
visitor costs the server, with nothing queued: N visitors connect one after another, then each
opens a conversation with its first message, an agent claims each, answers each, and each
visitor writes once more. The server's CPU time (from /proc) over each phase, divided by N, is
the cost of one operation; 20 agents are connected, as in the burst, so every queue change
goes to 20 sockets. Each round starts a fresh server; the table shows the median round.
The clients are python-socketio's, in this process (their CPU is not counted).

With --postgres chatserver runs on a throw-away PostgreSQL (a new database each round), and a
second column gives PostgreSQL's own CPU per operation (all its processes, from /proc; stop
any other PostgreSQL on the machine first).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import sys
from pathlib import Path
from typing import Any

import socketio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ROOT, Server, cleanup, proc_sample, start_profiler  # noqa: E402

AGENTS = 20
PHASES = ("connect", "open", "claim", "agent message", "visitor message")


async def _connect(url: str, namespace: str, auth: dict[str, Any]) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(url, namespaces=[namespace], auth=auth, transports=["websocket"])
    return client


async def _call(client: socketio.AsyncClient, namespace: str, event: str,
                data: dict[str, Any]) -> dict[str, Any]:
    ack = await client.call(event, data, namespace=namespace, timeout=30)
    if not ack or not ack.get("ok"):
        raise SystemExit(f"op_cost: {event} failed: {ack}")
    return dict(ack)


def _postgres_cpu(postgres: Any) -> float:
    """CPU seconds used so far by every process named `postgres` on the machine: the
    benchmark's instance, provided no other PostgreSQL runs here meanwhile."""
    if postgres is None:
        return 0.0
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            total += proc_sample(int(entry.name))[1]
        except OSError:
            continue  # ended meanwhile
    return total


async def measure(server: Server, n: int, profile: str | None, postgres: Any = None
                  ) -> dict[str, float]:
    """Costs per phase; with `profile`, py-spy's raw stacks of each phase in PROFILE-PHASE.txt."""
    notice = server.notice_version()
    agents = [await _connect(server.url, "/agent", {"api_token": token, "queue_version": 2})
              for token in server.agent_tokens]
    agent = agents[0]
    costs: dict[str, float] = {}
    visitors: list[socketio.AsyncClient] = []
    conversations: list[str] = []

    async def phase(name: str, step: Any) -> None:
        profiler = None
        if profile and server.process:
            profiler = start_profiler(server.process.pid,
                                      f"{profile}-{name.replace(' ', '-')}.txt", rate=1000)
            await asyncio.sleep(0.5)  # py-spy attaching
        cpu0, db0 = server.sample()[2], _postgres_cpu(postgres)
        for i in range(n):
            await step(i)
        await asyncio.sleep(0.3)  # what the last step set off (deliveries) is counted too
        costs[name] = (server.sample()[2] - cpu0) / n * 1000
        if postgres is not None:
            costs[f"{name} (PostgreSQL)"] = (_postgres_cpu(postgres) - db0) / n * 1000
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(30)

    async def connect(i: int) -> None:
        visitors.append(await _connect(server.url, "/visitor",
                                       {"notice_version": notice, "lang": "en"}))

    async def open_(i: int) -> None:
        ack = await _call(visitors[i], "/visitor", "message",
                          {"client_id": "first", "text": f"hello {i}"})
        conversations.append(ack["message"]["conversation_id"])

    async def claim(i: int) -> None:
        await _call(agent, "/agent", "claim", {"conversation_id": conversations[i]})

    async def answer(i: int) -> None:
        await _call(agent, "/agent", "message", {"conversation_id": conversations[i],
                                                 "client_id": f"r{i}", "text": "reply"})

    async def again(i: int) -> None:
        await _call(visitors[i], "/visitor", "message", {"client_id": "second", "text": "ok"})

    for name, step in zip(PHASES, (connect, open_, claim, answer, again), strict=True):
        await phase(name, step)
    for client in visitors + agents:
        await client.disconnect()
    return costs


def run(target: str, n: int, profile: str | None = None, postgres: Any = None,
        round_: int = 0) -> dict[str, float]:
    ours = not target.startswith("bare")
    database_url = (postgres.create_database(f"op_cost_{round_}")
                    if ours and postgres is not None else None)
    server = Server("ours" if ours else "bare", bare_tuned=target == "bare-tuned",
                    database_url=database_url)
    server.prepare(AGENTS)
    server.start()
    try:
        return asyncio.run(measure(server, n, profile, postgres if ours else None))
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", default="ours,bare-tuned")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", action="store_true",
                        help="chatserver on a throw-away PostgreSQL, with its CPU shown too")
    parser.add_argument("--profile", metavar="PREFIX",
                        help="record each target with py-spy in each phase of the first round "
                             "(raw stacks in PREFIX-TARGET-PHASE.txt; pip install py-spy)")
    args = parser.parse_args()
    targets = args.targets.split(",")
    results: dict[str, list[dict[str, float]]] = {target: [] for target in targets}
    postgres = None
    if args.postgres:
        sys.path.insert(0, str(ROOT))
        from tests.servers import PostgresServer

        postgres = PostgresServer()
        postgres.start()
    try:
        for round_ in range(args.rounds):
            for target in targets:  # interleaved, so a busy spell touches both
                print(f"round {round_ + 1}/{args.rounds}: {target}", file=sys.stderr, flush=True)
                profile = f"{args.profile}-{target}" if args.profile and round_ == 0 else None
                results[target].append(run(target, args.n, profile, postgres, round_))
    finally:
        cleanup()
        if postgres is not None:
            postgres.stop()
    if postgres is not None and "ours" in targets:  # PostgreSQL's share, next to the server's
        at = targets.index("ours") + 1
        targets = [*targets[:at], "PostgreSQL", *targets[at:]]
        results["PostgreSQL"] = [{name: r[f"{name} (PostgreSQL)"] for name in PHASES}
                                 for r in results["ours"]]
    print(f"server CPU per operation, ms (median of {args.rounds} rounds of {args.n})")
    print(f"{'operation':<16}" + "".join(f"{t:>12}" for t in targets))
    for name in (*PHASES, "per visitor"):
        row = []
        for target in targets:
            rounds = results[target]
            values = [sum(r[p] for p in PHASES[:4]) if name == "per visitor" else r[name]
                      for r in rounds]
            row.append(f"{statistics.median(values):>12.2f}")
        print(f"{name:<16}" + "".join(row))
    print("(per visitor: connect + open + claim + the agent's answer, as in the burst)")


if __name__ == "__main__":
    main()
