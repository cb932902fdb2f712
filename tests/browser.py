"""Browser-test helpers: Debian's Chromium driven by Playwright (pytest-playwright-asyncio), the
built widget, axe-core from widget/node_modules, host pages on a foreign origin, screenshots.

Imported by tests/test_widget.py, which makes the fixtures here visible to its tests.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

try:
    from playwright.async_api import expect
except ImportError:  # pragma: no cover - the dev extra installs it
    expect = None

ROOT = Path(__file__).resolve().parent.parent
WIDGET_DIR = ROOT / "widget"
BUNDLE = ROOT / "chatserver" / "static" / "widget.js"
AXE = WIDGET_DIR / "node_modules" / "axe-core" / "axe.min.js"
OUTPUT = ROOT / "test-output" / "widget"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


@pytest.fixture(scope="session")
def widget_bundle() -> Path:
    """Builds widget.js once per session (as `make widget` does); the tests need it."""
    if shutil.which("npm") is None and not BUNDLE.exists():
        pytest.skip("npm is not installed, so the widget cannot be built")
    if shutil.which("npm") is not None:
        subprocess.run(["make", "-s", "-C", str(WIDGET_DIR), "build"], check=True,
                       capture_output=True)
    return BUNDLE


@pytest.fixture(scope="session")
def browser_type_launch_args(widget_bundle: Path) -> dict[str, Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (make system-deps installs it)")
    return {"executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="session")
def base_url() -> str | None:
    """Replaces the plugin's fallback fixture (a method, which pytest 9 warns about)."""
    return None


@pytest.fixture(scope="session")
def axe_source(widget_bundle: Path) -> str:
    return AXE.read_text()


class HostSite:
    """A host site on its own origin (localhost:PORT, while the chat server is 127.0.0.1:PORT):
    every path answers with a page that embeds the widget with one tag, under a
    Content-Security-Policy that adds only the chat server to the site's own origin."""

    def __init__(self) -> None:
        self.origin = ""
        self.chat_url = ""
        self.lang: str | None = None
        self.attributes = ""

    def embed(self, chat_url: str, lang: str | None = None, attributes: str = "") -> None:
        self.chat_url, self.lang, self.attributes = chat_url, lang, attributes

    def page(self) -> str:
        attributes = (f' data-lang="{self.lang}"' if self.lang else "") + (
            f" {self.attributes}" if self.attributes else "")
        return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
                "<title>Shop</title><link rel='stylesheet' href='/hostile.css'></head><body>"
                "<main><h1>Shop</h1><a href='/next'>Next page</a></main>"
                f'<script src="{self.chat_url}/widget.js"{attributes} async></script>'
                "</body></html>")

    async def handle(self, request: web.Request) -> web.Response:
        if request.path == "/hostile.css":
            # Page styles that would break a widget living in the page's own DOM.
            css = ("* { color: #f0f !important; font: 40px/3 serif !important; "
                   "display: block; } button { background: lime; }")
            return web.Response(text=css, content_type="text/css")
        return web.Response(text=self.page(), content_type="text/html",
                            headers={"Content-Security-Policy": csp_line(self.chat_url)})


def csp_line(chat_url: str) -> str:
    """The policy docs/widget.md gives: the site's own origin plus the chat server."""
    websocket = chat_url.replace("http://", "ws://").replace("https://", "wss://")
    return (f"default-src 'self'; script-src 'self' {chat_url}; "
            f"connect-src 'self' {chat_url} {websocket}")


@pytest.fixture
async def host_site(aiohttp_server: Any) -> HostSite:
    site = HostSite()
    app = web.Application()
    app.router.add_get("/{tail:.*}", site.handle)
    server = await aiohttp_server(app)
    site.origin = f"http://localhost:{server.port}"
    return site


async def run_axe(page: Any, axe_source: str) -> list[dict[str, Any]]:
    """axe-core's violations inside the widget (its shadow tree included)."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        # The demo page's CSP forbids inline scripts (as a careful host's would); evaluate
        # is not subject to it.
        await page.evaluate(axe_source)
    script = """async (tags) => {
        const root = document.querySelector('chatserver-widget').shadowRoot;
        await Promise.all(root.getAnimations().map((a) => a.finished));  // the panel's opening
        const result = await axe.run(document.querySelector('chatserver-widget'),
                                     {runOnly: {type: 'tag', values: tags},
                                      rules: {region: {enabled: false}}});
        return result.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map((n) => n.target.join(' ') + ' :: ' + n.failureSummary)}));
    }"""
    violations: list[dict[str, Any]] = await page.evaluate(script, WCAG_TAGS)
    return violations


def describe(violations: list[dict[str, Any]]) -> str:
    return json.dumps(violations, indent=1, ensure_ascii=False)


async def screenshot(page: Any, name: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(OUTPUT / f"{name}.png"))


# ---------------------------------------------------------------- the widget in a page

def shadow(page: Any) -> Any:
    return page.locator("chatserver-widget")


async def storage_of(page: Any) -> dict[str, Any]:
    return await page.evaluate("""() => ({
        cookies: document.cookie, local: window.localStorage.length,
        session: Object.keys(window.sessionStorage)})""")


async def start_chat(page: Any, start_label: str = "Aloita keskustelu") -> None:
    await shadow(page).locator(".launch").click()
    await page.get_by_role("button", name=start_label).click()
    await expect(shadow(page).locator(".status")).to_have_text(
        re.compile("Kirjoita|Write|Skriv"))


async def send(page: Any, text: str) -> None:
    await shadow(page).locator("#cs-msg").fill(text)
    await shadow(page).locator("#cs-msg").press("Enter")


def bubbles(page: Any) -> Any:
    return shadow(page).locator("li .txt")


async def queued_conversation(agent: Any) -> str:
    queue = await agent.next("queue", where=lambda q: q["conversations"])
    return str(queue["conversations"][0]["id"])
