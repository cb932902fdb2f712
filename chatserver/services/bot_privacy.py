"""The assistant's answers about the visitor's own data, built from the live privacy notice.

They are not written anywhere: each is put together from sections of the notice the server
renders from its settings (services/notice.py), so changing a setting (the retention period, a
processor, an optional field) changes the answer exactly as it changes the notice.
"""

from __future__ import annotations

from typing import Any

from chatserver.i18n import gettext_noop as _
from chatserver.services import notice
from chatserver.services.context import Context

IDS = ("privacy.stored", "privacy.retention", "privacy.location", "privacy.access",
       "privacy.erase")

RETENTION = _("How long your data is kept:")
ACCESS = _("Only the customer service staff of {controller} can read the conversation. Each of "
           "them signs in with a personal account, and every reading is logged.")
ERASE = _("You can delete this conversation yourself, right now: open the chat menu and choose "
          "“{action}”. It is deleted from our server at once.")
ERASE_ACTION = _("Delete this conversation")
DOWNLOAD = _("In the same menu you can also download the transcript of the conversation.")
FULL_NOTICE = _("The full privacy notice: {url}")


def answer(ctx: Context, language: str, entry_id: str) -> tuple[str, list[str]]:
    """The answer text for one of IDS in `language`, and the widget actions it points to."""
    content = notice.full(ctx, language)
    sections: dict[str, dict[str, Any]] = {s["id"]: s for s in content["sections"]}

    def t(msgid: str, **params: Any) -> str:
        text = ctx.translator.gettext(language, msgid)
        return text.format(**params) if params else text

    parts: list[str]
    actions: list[str] = []
    if entry_id == "privacy.stored":
        data = sections["data"]
        parts = [*data["paragraphs"], _bullets(data["items"])]  # "only the data listed below"
    elif entry_id == "privacy.retention":
        parts = [t(RETENTION), _bullets(sections["retention"]["items"])]
    elif entry_id == "privacy.location":
        disclosures = sections["disclosures"]
        parts = [*sections["transfers"]["paragraphs"], *disclosures["paragraphs"][1:],
                 _bullets(disclosures["items"])]
    elif entry_id == "privacy.access":
        disclosures = sections["disclosures"]
        parts = [t(ACCESS, controller=ctx.settings.privacy.controller.name),
                 *disclosures["paragraphs"], _bullets(disclosures["items"])]
    elif entry_id == "privacy.erase":
        rights = sections["rights"]["items"]
        parts = [t(ERASE, action=t(ERASE_ACTION)), t(DOWNLOAD), _bullets(rights[2:])]
        actions = ["erase"]
    else:
        raise KeyError(entry_id)
    parts.append(t(FULL_NOTICE, url=content["url"]))
    return "\n\n".join(part for part in parts if part), actions


def _bullets(items: list[str]) -> str:
    return "\n".join(f"• {item}" for item in items)
