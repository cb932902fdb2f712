"""Benchmark (not a test): the console's first paint with many open chats (issue 21).

    .venv/bin/python bench/console_paint.py [--chats 50] [--runs 10]

Starts the real app on a free port (SQLite, migrated), opens --chats visitor conversations with
a few messages each (real socket.io clients, which then disconnect: the chats stay open) and
has one agent take them all, then loads
/console in Debian's headless Chromium (Playwright) --runs times with that agent's session.
An init script (outside the page's CSP, as a browser extension would run) notes the time from
the navigation's start to the first frame after the console has drawn the list from its
`welcome` (the chats view's own performance mark), and to the first frame that shows the open
chat's messages (one `history` later). The baseline in the same run is the same page for an
agent with no chat: the frame after its (empty) list is drawn from the `welcome`. Prints the
median and the slowest of each, and the console bundle's size.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import socketio
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chatserver.app import create_app  # noqa: E402
from chatserver.db import migrate  # noqa: E402
from chatserver.keys import CONTEXT  # noqa: E402
from chatserver.services import agents  # noqa: E402
from chatserver.settings import load_settings  # noqa: E402
from tests.helpers import PASSWORD, free_port, make_settings  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
STATIC = Path(__file__).resolve().parent.parent / "chatserver" / "static"
# Painted: the list holds `want` chats and the open chat's log has its messages (or, with no
# chat, the empty list is there), then the next animation frame.
WATCH = """
window.__listed = null;
window.__painted = null;
const want = %d;
// The list: the frame after the console has drawn the chats of its `welcome` (its mark).
new PerformanceObserver((list) => {
  if (list.getEntries().some((e) => e.name === 'chatserver:listed')) {
    requestAnimationFrame(() => {
      window.__listed = performance.now();
      if (!want) window.__painted = window.__listed;
    });
  }
}).observe({ entryTypes: ['mark'] });
// The open chat: the frame after its messages are in the log.
const observer = new MutationObserver(() => {
  if (want && document.querySelectorAll('ol.log li').length > 0) {
    observer.disconnect();
    requestAnimationFrame(() => { window.__painted = performance.now(); });
  }
});
document.addEventListener('DOMContentLoaded', () => {
  observer.observe(document.body, { childList: true, subtree: true });
});
"""


async def open_chats(url: str, version: str, count: int) -> list[socketio.AsyncClient]:
    visitors = []
    for n in range(count):
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(url, namespaces=["/visitor"], transports=["websocket"],
                             auth={"lang": ("fi", "sv", "en")[n % 3], "notice_version": version})
        for m in range(3):
            await client.call("message", {"client_id": f"v{n}-{m}",
                                          "text": f"Hei, kysymys numero {m} asiakkaalta {n}"},
                              namespace="/visitor")
        visitors.append(client)
    return visitors


async def take_all(url: str, cookie: str, expected: int) -> socketio.AsyncClient:
    agent = socketio.AsyncClient(reconnection=False)
    welcome: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    agent.on("welcome", lambda data: welcome.done() or welcome.set_result(data), namespace="/agent")
    await agent.connect(url, namespaces=["/agent"], transports=["websocket"],
                        headers={"Cookie": cookie}, auth={"queue_version": 2})
    data = await asyncio.wait_for(welcome, 10)
    for conv in data["queue"]:
        ack = await agent.call("claim", {"conversation_id": conv["id"]}, namespace="/agent")
        assert ack["ok"], ack
    assert len(data["queue"]) == expected, len(data["queue"])
    return agent


async def paint_times(url: str, cookie: tuple[str, str], want: int, runs: int
                      ) -> list[tuple[float, float]]:
    from playwright.async_api import async_playwright

    times = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=["--no-sandbox", "--disable-gpu"])
        for _ in range(runs + 1):  # the first load warms the HTTP cache like a working day
            context = await browser.new_context(viewport={"width": 1400, "height": 900})
            await context.add_cookies([{"name": cookie[0], "value": cookie[1], "url": url}])
            await context.add_init_script(WATCH % want)
            page = await context.new_page()
            await page.goto(url + "/console")
            await page.wait_for_function("() => window.__painted !== null", timeout=30_000)
            times.append(await page.evaluate("() => [window.__listed, window.__painted]"))
            await context.close()
        await browser.close()
    return times[1:]


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        # The tests' settings (cheap password hashing), with the product's defaults where they
        # shape a page load: sessions re-checked every few seconds, not before every event.
        defaults = load_settings(environ={})
        settings = make_settings(
            Path(tmp), port,
            presence={"heartbeat_seconds": defaults.presence.heartbeat_seconds,
                      "timeout_seconds": defaults.presence.timeout_seconds},
            auth={"session_recheck_seconds": defaults.auth.session_recheck_seconds})
        await asyncio.to_thread(migrate.upgrade, settings.database_url)
        app = create_app(settings)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        url = f"http://127.0.0.1:{port}"
        try:
            ctx = app[CONTEXT]
            results = {}
            for label, email, count in (("empty chats view (baseline)", "empty@example.fi", 0),
                                        (f"{args.chats} open chats", "busy@example.fi",
                                         args.chats)):
                await agents.create_agent(ctx, email, "Bench", PASSWORD, "agent", "en")
                async with aiohttp.ClientSession() as http:
                    async with http.post(url + "/api/v1/auth/login",
                                         json={"email": email, "password": PASSWORD}) as r:
                        assert r.status == 200, await r.text()
                        morsel = r.cookies["chatserver_session"]
                cookie = (morsel.key, morsel.value)
                async with aiohttp.ClientSession() as http:
                    async with http.get(url + "/api/v1/widget/config") as r:
                        version = (await r.json())["notice"]["version"]
                visitors = await open_chats(url, version, count)
                agent = await take_all(url, f"{cookie[0]}={cookie[1]}", count)
                await agent.disconnect()
                # The chats stay open; the visitors' sockets (in this process) would only add
                # their own work to the server's loop while the page loads.
                for client in visitors:
                    await client.disconnect()
                results[label] = await paint_times(url, cookie, count, args.runs)
        finally:
            await runner.cleanup()
    bundle = (STATIC / "console.js").read_bytes()
    print(f"console.js: {len(bundle):,} bytes, {len(gzip.compress(bundle, 9)):,} gzipped; "
          f"console.css {len(gzip.compress((STATIC / 'console.css').read_bytes(), 9)):,} gzipped")
    print(f"\n{'first paint, median / slowest':<32} {'the list':>17} {'the open chat':>17}"
          f"   ({args.runs} loads each)")
    for label, times in results.items():
        listed = [t[0] for t in times]
        painted = [t[1] for t in times]
        print(f"{label:<32} {statistics.median(listed):>6.0f} / {max(listed):>4.0f} ms "
              f"{statistics.median(painted):>6.0f} / {max(painted):>4.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--runs", type=int, default=10)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
