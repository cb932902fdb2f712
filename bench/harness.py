"""Processes for the benchmark: the server under test (chatserver or the bare relay), its
resource samples from /proc, and the Node load generator with a progress bar."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_generator() -> None:
    if shutil.which("node") is None:
        raise SystemExit("bench: Node.js is needed for the load generator (apt-get install nodejs)")
    if not (BENCH / "node_modules" / "socket.io-client").exists():
        print("bench: installing the load generator's packages (npm ci)", file=sys.stderr)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=BENCH, check=True)


FILES = 65536  # open files per process: 20,000 idle connections need more than the default


def _more_files() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:  # raising the hard limit needs root (CAP_SYS_RESOURCE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, FILES), max(hard, FILES)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def priority(nice: int) -> Callable[[], None]:
    """For Popen's preexec_fn: as many open files as the system allows, and the child (and
    every thread it starts) at this niceness."""

    def setup() -> None:
        _more_files()
        if nice:
            os.setpriority(os.PRIO_PROCESS, 0, nice)

    return setup


def proc_sample(pid: int) -> tuple[float, float]:
    """(RSS in KiB, CPU seconds used so far) of one process, from /proc."""
    rss = 0.0
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                rss = float(line.split()[1])
                break
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return rss, (int(fields[11]) + int(fields[12])) / TICK


TEMPLATE_AGENTS = 20
_TEMPLATE: list[Any] = [None, []]  # folder of a migrated SQLite database with agents, tokens


@dataclass
class Server:
    """One server process on a free port, with /proc samples taken while it runs."""

    kind: str  # "ours" or "bare"
    env: dict[str, str] = field(default_factory=dict)
    database_url: str | None = None
    bare_tuned: bool = False
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    samples: list[tuple[float, float, float]] = field(default_factory=list)
    agent_tokens: list[str] = field(default_factory=list)
    gc_pauses: list[list[float]] = field(default_factory=list)  # [monotonic, generation, ms]
    nice: int = 0
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="chatbench-")))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def our_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHATSERVER_")}
        env.update({
            "CHATSERVER_HOST": "127.0.0.1", "CHATSERVER_PORT": str(self.port),
            "CHATSERVER_DATA_DIR": str(self.tmp), "CHATSERVER_LOG_LEVEL": "warning",
            # The benchmark's agents each send far more than a person types.
            "CHATSERVER_LIMITS__EVENTS_PER_SECOND": "1000000",
            "CHATSERVER_LIMITS__EVENT_BURST": "1000000",
            # Thousands of visitors, all from 127.0.0.1.
            "CHATSERVER_LIMITS__VISITOR_CONNECTIONS_PER_ADDRESS": "1000000",
            "CHATSERVER_LIMITS__CONVERSATIONS_PER_ADDRESS_PER_HOUR": "1000000",
            "CHATSERVER_LIMITS__OFFLINE_PER_ADDRESS_PER_HOUR": "1000000",
            # Messages go to agents, not to the FAQ bot.
            "CHATSERVER_BOT__ENABLED": "false",
            "CHATSERVER_AUTH__ARGON2_TIME_COST": "1", "CHATSERVER_AUTH__ARGON2_MEMORY_KIB": "64",
            "CHATSERVER_AUTH__ARGON2_PARALLELISM": "1",
        })
        if self.database_url:
            env["CHATSERVER_DATABASE_URL"] = self.database_url
        env.update(self.env)
        return env

    def prepare(self, agents: int) -> None:
        """Migrate and create the agents with API tokens (chatserver only). On SQLite this is
        done once into a template database that later servers copy."""
        if self.kind != "ours":
            self.agent_tokens = [f"bare-{i}" for i in range(agents)]
            return
        if self.database_url is None:
            if _TEMPLATE[0] is None or agents > len(_TEMPLATE[1]):
                template = Server("ours", env=self.env)
                template._migrate_and_add_agents(max(agents, TEMPLATE_AGENTS))
                _TEMPLATE[:] = [template.tmp, template.agent_tokens]
            shutil.copy(_TEMPLATE[0] / "chatserver.db", self.tmp / "chatserver.db")
            self.agent_tokens = _TEMPLATE[1][:agents]
            return
        self._migrate_and_add_agents(agents)

    def _migrate_and_add_agents(self, agents: int) -> None:
        sys.path.insert(0, str(ROOT))
        from chatserver.app import build_context
        from chatserver.db import migrate
        from chatserver.services import agents as agent_service
        from chatserver.services.events import EventBus
        from chatserver.settings import Settings, load_settings

        settings: Settings = load_settings(environ=self.our_env())
        migrate.upgrade(settings.database_url)

        async def create() -> list[str]:
            ctx = build_context(settings, EventBus(None))
            tokens = []
            try:
                for i in range(agents):
                    agent = await agent_service.create_agent(
                        ctx, f"agent{i}@bench.example", f"Agent {i}", "benchmark-password",
                        "agent", "en")
                    tokens.append(await agent_service.create_api_token(ctx, agent.id or 0,
                                                                       "bench"))
            finally:
                await ctx.engine.dispose()
            return tokens

        self.agent_tokens = asyncio.run(create())

    def start(self) -> None:
        if self.kind == "ours":
            command = [sys.executable, "-m", "chatserver", "serve"]
            env = self.our_env()
        else:
            command = [sys.executable, str(BENCH / "bare_relay.py"), "--port", str(self.port)]
            if self.bare_tuned:
                command.append("--tuned")
            env = {**os.environ}
        # bench/gcstats/sitecustomize.py records the collector's pauses (see gc_pauses).
        env["PYTHONPATH"] = os.pathsep.join([str(BENCH / "gcstats"), str(ROOT)])
        env["BENCH_GC_STATS"] = str(self.tmp / "gc.json")
        with open(self.tmp / "log", "ab") as log:  # a restarted server appends
            self.process = subprocess.Popen(command, cwd=self.tmp, env=env,
                                            stdout=subprocess.DEVNULL, stderr=log,
                                            preexec_fn=priority(self.nice))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"bench: the {self.kind} server exited:\n"
                                 + (self.tmp / "log").read_text()[-3000:])
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"bench: the {self.kind} server did not answer /healthz in 30 s")

    def notice_version(self) -> str:
        with urllib.request.urlopen(self.url + "/api/v1/widget/config", timeout=5) as response:
            return str(json.load(response)["notice"]["version"])

    def sample(self) -> tuple[float, float, float]:
        assert self.process is not None
        rss, cpu = proc_sample(self.process.pid)
        entry = (time.monotonic(), rss, cpu)
        self.samples.append(entry)
        return entry

    def stop(self) -> str:
        log = ""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        with contextlib.suppress(OSError, ValueError):
            self.gc_pauses = json.loads((self.tmp / "gc.json").read_text())
        if (self.tmp / "log").exists():
            log = (self.tmp / "log").read_text(errors="replace")
        shutil.rmtree(self.tmp, ignore_errors=True)
        return log


def gc_summary(server: Server, start: float, end: float) -> dict[str, float]:
    """The collector's pauses in the server between two moments."""
    pauses = sorted(ms for at, _gen, ms in server.gc_pauses if start <= at <= end)
    full = [ms for at, gen, ms in server.gc_pauses if start <= at <= end and gen == 2]
    return {"count": len(pauses), "total_ms": sum(pauses), "max_ms": pauses[-1] if pauses else 0,
            "over_5ms": sum(1 for ms in pauses if ms > 5), "full_collections": len(full)}


def cleanup() -> None:
    if _TEMPLATE[0] is not None:
        shutil.rmtree(_TEMPLATE[0], ignore_errors=True)
        _TEMPLATE[:] = [None, []]


def start_profiler(pid: int, output: str, rate: int = 200) -> subprocess.Popen[bytes]:
    """py-spy, sampling only threads that hold the GIL (what costs CPU), as raw stacks."""
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid), "--format",
         "raw", "--output", output, "--nonblocking", "--gil", "--rate", str(rate)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Progress:
    """One line on stderr, redrawn in place: label, bar, counts and live figures."""

    def __init__(self, label: str, enabled: bool) -> None:
        self.label, self.enabled, self.last = label, enabled, 0.0

    def draw(self, phase: str, done: float, total: float, extra: str = "") -> None:
        if not self.enabled or time.monotonic() - self.last < 0.2:
            return
        self.last = time.monotonic()
        width = 28
        filled = int(width * min(1.0, done / total)) if total else 0
        bar = "█" * filled + "░" * (width - filled)
        sys.stderr.write(f"\r  {self.label:<14} {phase:<10} {bar} {done:g}/{total:g} {extra:<40}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 120 + "\r")
            sys.stderr.flush()

    def say(self, text: str) -> None:
        """A line of its own above the bar (the bar is redrawn by the next `draw`)."""
        if self.enabled:
            self.close()
            sys.stderr.write(f"  {self.label:<14} {text}\n")
            sys.stderr.flush()
            self.last = 0.0


Tell = Callable[[dict[str, Any]], None]
OnMark = Callable[[str, Tell], Coroutine[Any, Any, None]]


async def run_generator(server: Server, config: dict[str, Any], progress: Progress,
                        profile: str | None = None, script: str = "load.mjs",
                        on_mark: OnMark | None = None) -> tuple[dict[str, Any], dict[str, float]]:
    """Run bench/load.mjs (or another generator `script`) against `server`; returns its result
    and the times of its marks. With `profile`, py-spy samples the server while the generator
    measures (raw stacks). `on_mark(name, tell)` runs as a task for each mark; `tell` writes a
    JSON line to the generator's stdin."""
    marks: dict[str, float] = {}
    profiler: subprocess.Popen[bytes] | None = None
    result: dict[str, Any] | None = None
    process = await asyncio.create_subprocess_exec(
        "node", str(BENCH / script), json.dumps(config),
        stdin=asyncio.subprocess.PIPE if on_mark else None,
        stdout=asyncio.subprocess.PIPE, limit=2**24, preexec_fn=priority(server.nice),
    )
    sampling = True
    tasks: list[asyncio.Task[None]] = []

    def tell(message: dict[str, Any]) -> None:
        assert process.stdin is not None
        process.stdin.write((json.dumps(message) + "\n").encode())

    async def sampler() -> None:
        while sampling:
            with contextlib.suppress(OSError):  # the server may be restarting
                server.sample()
            await asyncio.sleep(0.25)

    sampler_task = asyncio.create_task(sampler())
    assert process.stdout is not None
    errors: list[str] = []
    async for raw in process.stdout:
        line = json.loads(raw)
        kind = line["type"]
        if kind == "progress":
            extra = ""
            if "extra" in line:
                extra = line["extra"]
            elif "rate" in line:
                extra = (f"{line['rate']:.0f} msg/s offered, {line['delivered']}/{line['sent']}"
                         f" delivered")
            progress.draw(line["phase"], line["done"], line["total"], extra)
        elif kind == "mark":
            with contextlib.suppress(OSError):
                server.sample()
            marks[line["name"]] = time.monotonic()
            if on_mark is not None:
                tasks.append(asyncio.create_task(on_mark(line["name"], tell)))
            if line["name"] in ("measure_start", "held") and profile and server.process:
                profiler = start_profiler(server.process.pid, profile)
            elif line["name"] in ("measure_end", "hold_end") and profiler is not None:
                profiler.send_signal(signal.SIGINT)
        elif kind == "step":
            progress.draw("ramp", line["offered_rate"], line["offered_rate"],
                          f"p99 {line['p99']:.1f} ms {'ok' if line['sustained'] else 'over'}")
        elif kind == "error":
            errors.append(line["message"])
        elif kind == "fatal":
            errors.append(line["message"])
        elif kind == "result":
            result = line
    await process.wait()
    await asyncio.gather(*tasks)
    if profiler is not None:
        profiler.wait(30)
    sampling = False
    await sampler_task
    progress.close()
    if result is None:
        raise SystemExit("bench: the load generator failed:\n" + "\n".join(errors[-5:]))
    result["generator_errors"] = errors[:10]
    return result, marks


def window(server: Server, start: float, end: float) -> dict[str, float]:
    """Server CPU (share of one core) and RSS between two moments."""
    inside = [s for s in server.samples if start <= s[0] <= end] or server.samples[-1:]
    before = [s for s in server.samples if s[0] <= start] or server.samples[:1]
    first, last = before[-1], inside[-1]
    elapsed = max(1e-6, last[0] - first[0])
    rss = sorted(s[1] for s in inside)
    return {"cpu": (last[2] - first[2]) / elapsed, "cpu_seconds": last[2] - first[2],
            "rss_kib": rss[len(rss) // 2], "rss_max_kib": rss[-1]}
