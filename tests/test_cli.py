"""The `chatserver` command as an operator runs it: a real process each time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run(tmp_path: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "CHATSERVER_DATA_DIR": str(tmp_path),
                   "CHATSERVER_AUTH__ARGON2_MEMORY_KIB": "64",
                   "CHATSERVER_AUTH__ARGON2_TIME_COST": "1",
                   "CHATSERVER_AUTH__ARGON2_PARALLELISM": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "chatserver", *args], input=stdin,
                          capture_output=True, text=True, env=environment, timeout=60)


def test_help_explains_every_command(tmp_path: Path) -> None:
    top = run(tmp_path, "--help")
    assert top.returncode == 0
    for command in ("serve", "migrate", "agent"):
        assert command in top.stdout
    agent = run(tmp_path, "agent", "add", "--help")
    assert "--role" in agent.stdout and "--password-stdin" in agent.stdout


def test_agent_lifecycle_from_the_command_line(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    added = run(tmp_path, "agent", "add", "anna@example.fi", "--name", "Anna", "--role", "admin",
                "--password-stdin", stdin="a long password\n")
    assert added.returncode == 0, added.stderr
    assert "created admin anna@example.fi" in added.stdout
    duplicate = run(tmp_path, "agent", "add", "anna@example.fi", "--name", "Anna",
                    "--password-stdin", stdin="a long password\n")
    assert duplicate.returncode != 0 and "already exists" in duplicate.stderr
    short = run(tmp_path, "agent", "add", "b@example.fi", "--name", "B", "--password-stdin",
                stdin="short\n")
    assert short.returncode != 0 and "at least 10 characters" in short.stderr
    listed = run(tmp_path, "agent", "list")
    assert "anna@example.fi" in listed.stdout and "active" in listed.stdout
    assert run(tmp_path, "agent", "disable", "anna@example.fi").returncode == 0
    assert "disabled" in run(tmp_path, "agent", "list").stdout
    changed = run(tmp_path, "agent", "passwd", "anna@example.fi", "--password-stdin",
                  stdin="another long password\n")
    assert changed.returncode == 0 and "sessions were ended" in changed.stdout
    missing = run(tmp_path, "agent", "disable", "nobody@example.fi")
    assert missing.returncode != 0 and "No agent has the email" in missing.stderr


def test_configuration_errors_name_the_key(tmp_path: Path) -> None:
    result = run(tmp_path, "migrate", env={"CHATSERVER_PORT": "not-a-port"})
    assert result.returncode != 0
    assert "port" in result.stderr and "CHATSERVER_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    result = run(tmp_path, "serve", "--port", "1")
    assert result.returncode != 0
    assert "chatserver migrate" in result.stderr


@pytest.mark.parametrize("args", [("agent",), ("agent", "frobnicate"), ("nonsense",)])
def test_usage_errors_say_what_is_wrong(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = run(tmp_path, *args)
    assert result.returncode == 2 and "usage:" in result.stderr
