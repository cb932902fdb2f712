"""The wheel is the product (issue 17): built as `make dist` builds it, installed into a fresh
virtual environment outside the checkout, and run from another folder, it serves the widget, the
console and all three languages, and chats.

The fresh environment gets the wheel with `pip install --no-deps --no-index`, and finds the
dependencies through a path file pointing at the project's own environment: what is tested is
the wheel's content (code, catalogs, built bundles, FAQs, migrations), without downloading every
dependency again on each run. Only the path is added, not the project's editable install (a
path file's own path files are not read), and the test checks that `chatserver` is imported
from the fresh environment.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import aiohttp
import pytest

from chatserver import __version__
from tests.helpers import Client, free_port
from tests.servers import until_ready

ROOT = Path(__file__).resolve().parent.parent
NEEDED = ("chatserver/static/widget.js", "chatserver/static/console.js",
          "chatserver/static/console.css", "chatserver/locales/fi/LC_MESSAGES/messages.po",
          "chatserver/locales/sv/LC_MESSAGES/messages.po",
          "chatserver/locales/en/LC_MESSAGES/messages.po", "chatserver/faq/example_shop.toml",
          "chatserver/faq/privacy.toml", "chatserver/db/migrations/env.py",
          "chatserver/db/migrations/versions/0001_initial_schema.py")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built from a copy of the checkout without earlier build output (an old egg-info's file
    list would hide a file missing from the package data), with the widget built as make
    builds it."""
    source = tmp_path_factory.mktemp("source") / "chatserver"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "node_modules", "*.egg-info", "build", "dist", "test-output",
        "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", "data"))
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--wheel",
                            "--outdir", str(out), str(source)], capture_output=True, text=True)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    (found,) = out.glob("chatserver-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ folder of a fresh venv with only the wheel installed in it."""
    venv = tmp_path_factory.mktemp("venv") / "chat"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path("
                           "'purelib'))"], check=True, capture_output=True, text=True)
    own = sysconfig.get_path("purelib")  # the project's environment: the dependencies
    (Path(site.stdout.strip()) / "zz_dependencies.pth").write_text(own + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    str(wheel)], check=True, capture_output=True)
    return venv / "bin"


def test_the_wheel_holds_the_catalogs_the_bundles_the_faqs_and_the_migrations(
        wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert [name for name in NEEDED if name not in names] == []
    assert wheel.name.startswith(f"chatserver-{__version__}-")


def test_the_installed_command_prints_the_version(installed: Path, tmp_path: Path) -> None:
    shown = subprocess.run([str(installed / "chatserver"), "--version"], check=True,
                           capture_output=True, text=True, cwd=tmp_path)
    assert shown.stdout.strip() == f"chatserver {__version__}"
    where = subprocess.run([str(installed / "python"), "-c",
                            "import chatserver; print(chatserver.__file__)"],
                           check=True, capture_output=True, text=True, cwd=tmp_path)
    assert str(installed.parent) in where.stdout and str(ROOT) not in where.stdout


async def test_the_installed_wheel_serves_and_chats_from_any_folder(
        installed: Path, tmp_path: Path) -> None:
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CHATSERVER_")}
    environment["CHATSERVER_AUTH__ARGON2_TIME_COST"] = "1"
    environment["CHATSERVER_AUTH__ARGON2_MEMORY_KIB"] = "64"
    log = tmp_path / "serve.log"
    server = await asyncio.create_subprocess_exec(
        str(installed / "chatserver"), "serve", "--migrate", "--demo", "--port", str(port),
        cwd=tmp_path, env=environment, stdout=log.open("wb"), stderr=asyncio.subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            assert await until_ready(url, lambda: server.returncode is None), \
                log.read_text(errors="replace")[-2000:]
            async with http.get(url + "/widget.js") as response:
                assert response.status == 200 and len(await response.read()) > 20_000
            async with http.get(url + "/") as response:  # the demo page embeds the widget
                assert response.status == 200 and "/widget.js" in await response.text()
            for asset in ("/console", "/console.js", "/console.css"):
                async with http.get(url + asset) as response:
                    assert response.status == 200, asset
            starts = set()
            for language in ("fi", "sv", "en"):
                async with http.get(f"{url}/api/v1/widget/config?lang={language}") as response:
                    config = await response.json()
                assert config["language"] == language
                starts.add(config["strings"]["start_chat"])
                notice = config["notice"]["version"]
            assert len(starts) == 3  # three languages, three different labels
        visitor = Client("/visitor")
        await visitor.connect(url, auth={"lang": "fi", "notice_version": notice})
        await visitor.next("welcome")
        sent = await visitor.call("message", {"client_id": "c1",
                                              "text": "Kuinka kauan toimitus kestää?"})
        assert sent["ok"] and sent["conversation"]["state"] == "bot", sent
        greeting = await visitor.next("message", where=lambda m: m["author"]["kind"] == "bot")
        answer = await visitor.next("message", where=lambda m: m["author"]["kind"] == "bot")
        assert greeting["text"].startswith("Hei") and "arkipäivässä" in answer["text"]
        await visitor.sio.disconnect()
        assert (tmp_path / "data" / "chatserver.db").exists()  # in the folder it runs from
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), 20)
    assert server.returncode == 0, log.read_text(errors="replace")[-2000:]


SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


@pytest.mark.skipif(SYSTEMD_ANALYZE is None,
                    reason="systemd-analyze is not installed (Debian's systemd package)")
def test_the_systemd_unit_verifies_with_the_installed_command(installed: Path,
                                                               tmp_path: Path) -> None:
    """deploy/chatserver.service as systemd reads it; only the command's path is pointed at
    the wheel installed above (the unit names /opt/chatserver/bin/chatserver, and verify
    checks that it exists). Warnings count as failures: systemd ignores a bad line and starts."""
    unit = (ROOT / "deploy" / "chatserver.service").read_text()
    assert "/opt/chatserver/bin/chatserver" in unit
    (tmp_path / "chatserver.service").write_text(
        unit.replace("/opt/chatserver/bin/chatserver", str(installed / "chatserver")))
    assert SYSTEMD_ANALYZE is not None
    checked = subprocess.run([SYSTEMD_ANALYZE, "verify", str(tmp_path / "chatserver.service")],
                             capture_output=True, text=True)
    assert (checked.returncode, checked.stdout + checked.stderr) == (0, "")
