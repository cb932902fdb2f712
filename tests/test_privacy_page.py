"""The full privacy notice page in a real browser: axe-core finds no WCAG 2.1 AA violation in any
language, and the page runs no script (its CSP allows only its own style)."""

from __future__ import annotations

from typing import Any

import pytest

from chatserver.settings import LANGUAGES
from tests.browser import (  # noqa: F401  (fixtures)
    AXE,
    WCAG_TAGS,
    base_url,
    browser_type_launch_args,
    widget_bundle,
)
from tests.helpers import Chat

pytestmark = pytest.mark.browser

RUN_AXE = """async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))
    .violations.map((v) => v.id + ': ' + v.nodes.map((n) => n.target.join(' ')).join(', '))"""


async def test_privacy_page_is_accessible_in_every_language(chat: Chat, browser: Any) -> None:
    if not AXE.exists():
        pytest.skip("axe-core is installed with the widget's npm packages (make widget)")
    axe_source = AXE.read_text()
    # axe is injected past the page's CSP; the page itself loads no script.
    context = await browser.new_context(bypass_csp=True)
    try:
        page = await context.new_page()
        for language in LANGUAGES:
            response = await page.goto(f"{chat.url}/privacy?lang={language}")
            assert response is not None and response.ok
            assert await page.evaluate("() => document.scripts.length") == 0
            assert await page.evaluate("() => document.documentElement.lang") == language
            assert await page.locator("h2").count() == 12
            # The style (allowed by its hash) applies: the summary has its border.
            border = await page.evaluate(
                "() => getComputedStyle(document.querySelector('.summary')).borderLeftStyle")
            assert border == "solid"
            await page.add_script_tag(content=axe_source)
            assert await page.evaluate(RUN_AXE, WCAG_TAGS) == [], language
    finally:
        await context.close()
