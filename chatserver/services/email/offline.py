"""What a visitor leaves for email: the transcript address and the offline form, and the
agents' side of the offline inbox (list, mark handled, reply by email). Emails go through the
outbox (services/email/outbox.py), queued in the same transaction as the row they belong to.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from chatserver.db.models import Agent, Conversation, OfflineMessage, OutboxEmail
from chatserver.errors import Code, ServiceError
from chatserver.i18n import gettext_noop as _
from chatserver.services import address_limits, audit, reports
from chatserver.services.context import Context
from chatserver.services.conversations import Visitor
from chatserver.services.email import mailer, outbox
from chatserver.services.tokens import keyed_hash
from chatserver.services.views import iso

MAX_REPLY_CHARS = 20_000
RECEIPT_INTERVAL = timedelta(hours=1)

NOTICE_SUBJECT = _("Message from the chat form: {name}")
NOTICE_BODY = _("{name} <{email}> left this message through the chat on {time} (language: "
                "{language}). Reply to this email to answer them.")
RECEIPT_SUBJECT = _("We received your message")
RECEIPT_BODY = _("Thank you for your message. We will answer you at this address as soon as "
                 "we can.\n\nThis is an automatic reply.")
REPLY_SUBJECT = _("Re: your message")
REPLY_QUOTE = _("On {time} you wrote:")


def valid_address(address: str, *, lookup: bool = False) -> str:
    """A syntactically valid address; no DNS lookup, so a request never waits on the network.
    An international domain comes back in its ASCII (punycode) form, ready for SMTP. `lookup`
    (a data-subject request) also takes `.test` and dotless domains: nothing is sent."""
    try:
        result = validate_email(address.strip(), check_deliverability=False,
                                allow_smtputf8=False, globally_deliverable=not lookup,
                                test_environment=lookup)
    except EmailNotValidError:
        raise ServiceError(
            Code.INVALID_INPUT, _("Please check the email address; it does not look valid.")
        ) from None
    return result.ascii_email or result.normalized


async def request_transcript(ctx: Context, visitor: Visitor, address: str) -> None:
    if not ctx.settings.smtp.transcripts:
        raise ServiceError(Code.FORBIDDEN, _("Transcripts by email are turned off."))
    email = valid_address(address)
    if visitor.conversation_id is None:
        raise ServiceError(Code.NOT_FOUND, _("You have no conversation yet."))
    async with ctx.db.begin() as session:
        conversation = await session.get(Conversation, visitor.conversation_id)
        if conversation is None:
            raise ServiceError(Code.NOT_FOUND, _("The conversation was not found."))
        if conversation.state == "closed":
            raise ServiceError(Code.CLOSED)
        await session.exec(
            update(Conversation)
            .where(col(Conversation.id) == visitor.conversation_id)
            .values(transcript_email=email)
        )


def _t(ctx: Context, lang: str, msgid: str, **params: Any) -> str:
    wording = ctx.translator.gettext(lang, msgid)
    return wording.format(**params) if params else wording


def _when(ctx: Context, moment: datetime, language: str) -> str:
    return ctx.translator.format_time(moment, language, ctx.settings.time_zone)


async def leave_message(ctx: Context, visitor: Visitor, name: str, address: str,
                        text: str) -> str:
    """Store the message, and queue the team's notification (Reply-To: the visitor) and, if
    configured, a receipt to the visitor. The receipt repeats nothing the visitor typed, so the
    form cannot be used to send someone else a text of one's choosing."""
    email = valid_address(address)
    name = mailer.one_line(name, 100)
    if not name:
        raise ServiceError(Code.INVALID_INPUT, _("Please tell us your name."))
    now = ctx.clock()
    row = OfflineMessage(language=visitor.language, name=name, email=email, text=text,
                         notice_version=visitor.notice_version, created_at=now)
    team_language = ctx.settings.default_language
    async with ctx.db.begin() as session:
        await _check_site_rate(ctx, session, now)
        if visitor.address_key is not None:
            ctx.address_limits.take("offline", visitor.address_key,
                                    ctx.settings.limits.offline_per_address_per_hour,
                                    address_limits.OFFLINE_MESSAGES)
        session.add(row)
        await session.flush()
        await reports.count_offline(ctx, session, row)
        intro = _t(ctx, team_language, NOTICE_BODY, name=name, email=email,
                   time=_when(ctx, now, team_language), language=visitor.language)
        outbox.queue(
            ctx, session, kind="offline_notice", to=mailer.team_address(ctx.settings),
            reply_to=email, subject=_t(ctx, team_language, NOTICE_SUBJECT, name=name),
            body_text=f"{intro}\n\n{text}\n", language=team_language,
            offline_message_id=row.id,
        )
        if ctx.settings.smtp.receipt_to_visitor and not await _receipt_sent_lately(
                session, keyed_hash(ctx.record_key, email), now):
            outbox.queue(
                ctx, session, kind="offline_receipt", to=email,
                reply_to=mailer.team_address(ctx.settings),
                subject=_t(ctx, visitor.language, RECEIPT_SUBJECT),
                body_text=_t(ctx, visitor.language, RECEIPT_BODY) + "\n",
                language=visitor.language, offline_message_id=row.id,
            )
    return row.id


async def _check_site_rate(ctx: Context, session: AsyncSession, now: datetime) -> None:
    """At most `limits.offline_per_hour` offline messages site-wide per hour (docs/security.md):
    the form sends email to the team, so a flood from many connections stops here."""
    recent = (await session.exec(
        select(func.count()).select_from(OfflineMessage)
        .where(col(OfflineMessage.created_at) > now - timedelta(hours=1))
    )).one()
    if recent >= ctx.settings.limits.offline_per_hour:
        raise ServiceError(Code.RATE_LIMITED, _("Many messages have been left just now. "
                                                "Please try again later."))


async def _receipt_sent_lately(session: AsyncSession, recipient_hash: str,
                               now: datetime) -> bool:
    """At most one receipt per address per RECEIPT_INTERVAL, so the form cannot be used to
    flood someone's mailbox with receipts. By the address's keyed hash: a sent receipt no
    longer holds the address."""
    found = await session.exec(
        select(OutboxEmail.id)
        .where(OutboxEmail.recipient_hash == recipient_hash)
        .where(OutboxEmail.kind == "offline_receipt")
        .where(col(OutboxEmail.created_at) > now - RECEIPT_INTERVAL)
        .limit(1)
    )
    return found.first() is not None


async def list_messages(ctx: Context, agent: Agent, *, handled: bool | None,
                        limit: int) -> list[dict[str, Any]]:
    """The offline inbox, newest first, each with the state of the replies sent to it."""
    query = select(OfflineMessage).order_by(col(OfflineMessage.created_at).desc()).limit(limit)
    if handled is not None:
        query = query.where(col(OfflineMessage.handled_at).is_not(None) if handled
                            else col(OfflineMessage.handled_at).is_(None))
    async with ctx.db.begin() as session:
        rows = list((await session.exec(query)).all())
        replies = (
            await session.exec(
                select(OutboxEmail)
                .where(col(OutboxEmail.offline_message_id).in_([r.id for r in rows]))
                .where(OutboxEmail.kind == "reply")
                .order_by(col(OutboxEmail.created_at))
            )
        ).all() if rows else []
        audit.record(ctx, session, "offline_message.list", actor_kind="agent",
                     actor_id=agent.id, count=len(rows))
    by_message: dict[str, list[dict[str, Any]]] = {}
    for reply in replies:
        by_message.setdefault(reply.offline_message_id or "", []).append(
            {"id": reply.id, "status": reply.status, "created_at": iso(reply.created_at),
             "sent_at": iso(reply.sent_at), "last_error": reply.last_error}
        )
    return [offline_view(r, by_message.get(r.id, [])) for r in rows]


def offline_view(row: OfflineMessage, replies: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": row.id, "language": row.language, "name": row.name, "email": row.email,
        "text": row.text, "created_at": iso(row.created_at), "handled_at": iso(row.handled_at),
        "handled_by": row.handled_by, "replies": replies,
    }


async def mark_handled(ctx: Context, agent: Agent, message_id: str, handled: bool = True
                       ) -> None:
    async with ctx.db.begin() as session:
        row = await session.get(OfflineMessage, message_id)
        if row is None:
            raise ServiceError(Code.NOT_FOUND, _("The offline message was not found."))
        row.handled_at = ctx.clock() if handled else None
        row.handled_by = agent.id if handled else None
        session.add(row)
        audit.record(ctx, session, "offline_message.handled", actor_kind="agent",
                     actor_id=agent.id, target_kind="offline_message", target_id=message_id,
                     handled=handled)


async def reply(ctx: Context, agent: Agent, message_id: str, text: str) -> dict[str, Any]:
    """Email an agent's answer to the visitor (quoting their message) and mark it handled."""
    text = text.strip()
    if not text:
        raise ServiceError(Code.INVALID_INPUT, _("The message is empty."))
    if len(text) > MAX_REPLY_CHARS:
        raise ServiceError(Code.TOO_LARGE,
                           _("The message is too long (at most {limit} characters)."),
                           limit=MAX_REPLY_CHARS)
    async with ctx.db.begin() as session:
        row = await session.get(OfflineMessage, message_id)
        if row is None:
            raise ServiceError(Code.NOT_FOUND, _("The offline message was not found."))
        language = row.language
        quote = "\n".join("> " + line for line in row.text.splitlines())
        signature = mailer.one_line(agent.display_name, 100)
        body = (f"{text}\n\n-- \n{signature}\n\n"
                f"{_t(ctx, language, REPLY_QUOTE, time=_when(ctx, row.created_at, language))}\n"
                f"{quote}\n")
        email = outbox.queue(
            ctx, session, kind="reply", to=row.email, reply_to=mailer.team_address(ctx.settings),
            subject=_t(ctx, language, REPLY_SUBJECT), body_text=body, language=language,
            offline_message_id=row.id,
        )
        if row.handled_at is None:
            row.handled_at, row.handled_by = ctx.clock(), agent.id
            session.add(row)
        audit.record(ctx, session, "offline_message.reply", actor_kind="agent",
                     actor_id=agent.id, target_kind="offline_message", target_id=message_id,
                     email_id=email.id)
    return {"id": email.id, "status": email.status}
