"""Real PostgreSQL and Redis servers for the tests, started from Debian's packages without
systemd (see shared TOOLCHAIN notes). Each is started once per test session on a free port."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp

from tests.helpers import free_port


async def until_ready(url: str, between: Callable[[], bool] = lambda: True,
                      seconds: float = 60) -> bool:
    """True once `url`/readyz answers 200 within `seconds` (a loaded machine needs a while).
    `between` runs before each try; when it returns False (the server is gone) this stops."""
    deadline = asyncio.get_running_loop().time() + seconds
    async with aiohttp.ClientSession() as http:
        while asyncio.get_running_loop().time() < deadline and between():
            try:
                async with http.get(f"{url}/readyz") as response:
                    if response.status == 200:
                        return True
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    return False


async def wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until a `chatserver serve` process answers /readyz with 200; fails with its log if it
    exits or is not ready within a minute."""
    if not await until_ready(url, lambda: process.poll() is None):
        state = "exited" if process.poll() is not None else "not ready after a minute"
        raise AssertionError(f"{url} {state}: {_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


def _as_postgres(*command: str) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return list(command)


def postgres_binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class PostgresServer:
    def __init__(self) -> None:
        binaries = postgres_binaries()
        if binaries is None:
            raise RuntimeError("PostgreSQL is not installed (make system-deps installs it)")
        self.bin = binaries
        self.dir = Path(tempfile.mkdtemp(prefix="chatserver-pg-"))
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")

    def start(self) -> None:
        data = self.dir / "data"
        subprocess.run(
            _as_postgres(str(self.bin / "initdb"), "-D", str(data), "-A", "trust", "-U",
                         "postgres", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"),
            check=True, capture_output=True,
        )
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c full_page_writes=off -c synchronous_commit=off")
        subprocess.run(
            _as_postgres(str(self.bin / "pg_ctl"), "-D", str(data), "-l", str(self.dir / "log"),
                         "-o", options, "-w", "start"),
            check=True, capture_output=True,
        )

    def create_database(self, name: str) -> str:
        subprocess.run(
            _as_postgres(str(self.bin / "psql") if (self.bin / "psql").exists() else "psql",
                         "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-q", "-c",
                         f'CREATE DATABASE "{name}"'),
            check=True, capture_output=True,
        )
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        subprocess.run(
            _as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m",
                         "immediate", "-w", "stop"),
            capture_output=True,
        )
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisServer:
    def __init__(self) -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed (make system-deps installs it)")
        self.dir = Path(tempfile.mkdtemp(prefix="chatserver-redis-"))
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        subprocess.run(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--daemonize",
             "yes", "--save", "", "--appendonly", "no", "--dir", str(self.dir), "--pidfile",
             str(self.dir / "redis.pid")],
            check=True, capture_output=True,
        )

    def halt(self) -> None:
        """Stop the server and wait until it is gone; `start()` brings it back on the same
        port (tests/test_faults.py)."""
        pidfile = self.dir / "redis.pid"
        try:
            pid = int(pidfile.read_text().strip())
            os.kill(pid, 15)
        except (FileNotFoundError, ProcessLookupError, ValueError):
            return
        for _ in range(500):  # gone once nothing listens (its pid may linger as a zombie)
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.01)

    def stop(self) -> None:
        self.halt()
        shutil.rmtree(self.dir, ignore_errors=True)
