"""The assistant's answers about the visitor's own data, built from the live privacy notice.

They are not written anywhere: each is put together from sections of the notice the server
renders from its settings (privacy/notice.py), so changing a setting (the retention period, a
processor, an optional field) changes the answer exactly as it changes the notice.
"""

from __future__ import annotations

from typing import Any

from chatserver.i18n import gettext_noop as _
from chatserver.services.context import Context
from chatserver.services.privacy import notice
from chatserver.services.privacy.notice_render import features

IDS = ("privacy.stored", "privacy.retention", "privacy.location", "privacy.access",
       "privacy.erase", "privacy.cookies", "privacy.controller", "privacy.transcript",
       "privacy.bot")

RETENTION = _("How long your data is kept:")
ACCESS = _("Only the customer service staff of {controller} can read the conversation. Each of "
           "them signs in with a personal account, and every reading is logged.")
ERASE = _("You can delete this conversation yourself, right now: open the chat menu and choose "
          "“{action}”. It is deleted from our server at once.")
ERASE_ACTION = _("Delete this conversation")
DOWNLOAD = _("In the same menu you can also download the transcript of the conversation.")
FULL_NOTICE = _("The full privacy notice: {url}")
CONTROLLER = _("The controller of the data in this chat is {controller}.")
CONTACT = _("Contact about data protection:")
TRANSCRIPT = _("If you ask for the transcript, your email address is used only to send it when "
               "the chat ends; it is not used for marketing or given to anyone.")
NO_TRANSCRIPT = _("This chat does not send transcripts by email, so it asks for no email "
                  "address.")
BOT = _("I am an automatic assistant: I answer from answers prepared by the customer service "
        "of {controller}, and I make no decisions about you. A person from the customer service "
        "can take over whenever you like: ask for one, or press the button below.")


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
    elif entry_id == "privacy.cookies":
        parts = [*sections["cookies"]["paragraphs"]]
        if ctx.settings.privacy.collect_user_agent or ctx.settings.privacy.collect_page_url:
            parts.append(sections["sources"]["paragraphs"][1])  # what the browser sends
    elif entry_id == "privacy.controller":
        parts = [t(CONTROLLER, controller=ctx.settings.privacy.controller.name),
                 _fields(sections["controller"]), t(CONTACT), _fields(sections["contact"])]
    elif entry_id == "privacy.transcript":
        if features(ctx.settings).transcript:
            # With transcripts on, the retention items are: conversations, the transcript
            # address, [offline messages,] sent emails, the access log, backups
            # (notice_render.py).
            retention = sections["retention"]["items"]
            parts = [t(TRANSCRIPT), _bullets([retention[1], retention[-3]])]
        else:
            parts = [t(NO_TRANSCRIPT)]
    elif entry_id == "privacy.bot":
        parts = [t(BOT, controller=ctx.settings.privacy.controller.name)]
        actions = ["handoff"]
    else:
        raise KeyError(entry_id)
    parts.append(t(FULL_NOTICE, url=content["url"]))
    return "\n\n".join(part for part in parts if part), actions


def _fields(section: dict[str, Any]) -> str:
    return "\n".join(f"• {field['label']}: {field['value']}" for field in section["fields"])


def _bullets(items: list[str]) -> str:
    return "\n".join(f"• {item}" for item in items)
