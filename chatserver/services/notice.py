"""The privacy notice the visitor must acknowledge before a chat.

Until the generated notice lands (issue 3) this is a fixed placeholder text whose version is the
hash of its content in every language, so the gate in the socket layer already works for real.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from chatserver.i18n import gettext_noop as _
from chatserver.services.context import Context
from chatserver.settings import LANGUAGES

TITLE = _("Privacy notice for the chat")
SUMMARY = _(
    "Chats are stored on servers run by the site's owner in the EU and deleted when their "
    "retention period ends. No cookies are set and nothing about you is collected unless you "
    "give it. You can download or delete your conversation at any time."
)


def render(ctx: Context, language: str) -> dict[str, str]:
    return {
        "title": ctx.translator.gettext(language, TITLE),
        "summary": ctx.translator.gettext(language, SUMMARY),
    }


def current_version(ctx: Context) -> str:
    content = {language: render(ctx, language) for language in LANGUAGES}
    encoded = json.dumps(content, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()[:16]


def summary(ctx: Context, language: str) -> dict[str, Any]:
    return {
        "version": current_version(ctx),
        **render(ctx, language),
        "url": f"{ctx.settings.public_url}/privacy?lang={language}",
    }
