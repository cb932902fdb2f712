"""The transcript email: queued once when a conversation with a transcript address closes
(by the visitor, an agent, or the idle timeout of services/idle.py), in the conversation's
language, with every message, who wrote it and when (Babel, in settings.time_zone). The app
wires `queue_on_close` as a `ctx.on_close` hook, so the chat core does not import email. The
outbox clears the address from the conversation once the email has been sent (docs/email.md).
"""

from __future__ import annotations

import html
import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from chatserver.db.models import Conversation, Message, OutboxEmail
from chatserver.i18n import gettext_noop as _
from chatserver.services.context import Context
from chatserver.services.email import mailer, outbox

log = logging.getLogger(__name__)

MAX_TRANSCRIPT_CHARS = 200_000  # message text included; a longer chat is cut with a note

SUBJECT = _("Your chat transcript, {date}")
INTRO = _("Here is the transcript of your chat on {date}, as you asked.")
TIME = _("Time")
AUTHOR = _("Author")
MESSAGE = _("Message")
YOU = _("You")
BOT = _("Bot")
SYSTEM = _("Chat service")
CUT = _("The transcript is too long for one email: {count} later messages are not included.")
RETENTION = _(
    "We keep this conversation for {days} days after it ends and then delete it. To have it "
    "deleted sooner, choose “Delete conversation” in the chat window while it is still open, "
    "or reply to this email and ask us to delete it."
)
ADDRESS_NOTE = _(
    "Your email address was used only to send this transcript and is removed from the "
    "conversation once the email has been sent."
)


def conversation_retention_days(ctx: Context) -> int:
    """How long closed conversations are kept (privacy.retention.conversations)."""
    return ctx.settings.privacy.retention.conversations


async def queue_on_close(ctx: Context, session: AsyncSession, conversation: Conversation) -> None:
    """A `ctx.on_close` hook: routing.close calls it inside its transaction, after the closing
    message."""
    if not conversation.transcript_email:
        return
    already = (
        await session.exec(
            select(OutboxEmail.id)
            .where(OutboxEmail.conversation_id == conversation.id)
            .where(OutboxEmail.kind == "transcript")
        )
    ).first()
    if already is not None:
        return
    messages = list(
        (
            await session.exec(
                select(Message).where(Message.conversation_id == conversation.id)
                .order_by(col(Message.seq))
            )
        ).all()
    )
    subject, text, body_html = render(ctx, conversation, messages)
    outbox.queue(
        ctx, session, kind="transcript", to=conversation.transcript_email, subject=subject,
        body_text=text, body_html=body_html, language=conversation.language,
        reply_to=mailer.team_address(ctx.settings), conversation_id=conversation.id,
    )


def render(ctx: Context, conversation: Conversation, messages: list[Message]
           ) -> tuple[str, str, str]:
    """(subject, plain text, HTML) in the conversation's language."""
    language, zone = conversation.language, ctx.settings.time_zone

    def t(msgid: str, **params: Any) -> str:
        wording = ctx.translator.gettext(language, msgid)
        return wording.format(**params) if params else wording

    started = conversation.created_at
    date = _date(started, language, zone)
    included: list[Message] = []
    total = 0
    for message in messages:
        total += len(message.text)
        if total > MAX_TRANSCRIPT_CHARS and included:
            break
        included.append(message)
    left_out = len(messages) - len(included)
    rows = [
        (ctx.translator.format_time(m.created_at, language, zone), _author(t, m), m.text)
        for m in included
    ]
    closing = [t(RETENTION, days=conversation_retention_days(ctx)), t(ADDRESS_NOTE)]
    cut_note = t(CUT, count=left_out) if left_out else None

    lines = [t(INTRO, date=date), ""]
    for when, who, text in rows:
        lines.append(f"[{when}] {who}:")
        lines.extend("    " + line for line in text.splitlines() or [""])
        lines.append("")
    if cut_note:
        lines += [cut_note, ""]
    lines += ["-- ", *closing]
    plain = "\n".join(lines) + "\n"

    e = html.escape
    cells = "".join(
        f'<tr><td style="white-space:nowrap;vertical-align:top;padding:4px 8px">{e(when)}</td>'
        f'<th scope="row" style="text-align:left;vertical-align:top;padding:4px 8px">{e(who)}</th>'
        f'<td style="white-space:pre-wrap;vertical-align:top;padding:4px 8px">{e(text)}</td></tr>'
        for when, who, text in rows
    )
    subject = t(SUBJECT, date=date)
    document = (
        f'<!DOCTYPE html><html lang="{e(language)}"><head><meta charset="utf-8">'
        f"<title>{e(subject)}</title></head>"
        '<body style="font-family:sans-serif;line-height:1.4">'
        f"<p>{e(t(INTRO, date=date))}</p>"
        f'<table style="border-collapse:collapse"><thead><tr><th scope="col">{e(t(TIME))}</th>'
        f'<th scope="col">{e(t(AUTHOR))}</th><th scope="col">{e(t(MESSAGE))}</th></tr></thead>'
        f"<tbody>{cells}</tbody></table>"
        + (f"<p><em>{e(cut_note)}</em></p>" if cut_note else "")
        + "".join(f'<p style="color:#555">{e(line)}</p>' for line in closing)
        + "</body></html>"
    )
    return subject, plain, document


def _author(t: Any, message: Message) -> str:
    if message.author_kind == "visitor":
        return str(t(YOU))
    if message.author_name:
        return mailer.one_line(message.author_name, 100)
    return str(t(BOT) if message.author_kind == "bot" else t(SYSTEM))


def _date(moment: datetime, language: str, zone: str) -> str:
    return format_date(moment.astimezone(ZoneInfo(zone)), "long", locale=language)
