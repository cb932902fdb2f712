"""What a visitor leaves for email: the transcript address and the offline form.

Both are stored here; the email outbox sends them (the email feature).
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import update
from sqlmodel import col

from chatserver.db.models import Conversation, OfflineMessage
from chatserver.errors import Code, ServiceError
from chatserver.i18n import gettext_noop as _
from chatserver.services.context import Context
from chatserver.services.conversations import Visitor


def valid_address(address: str) -> str:
    """A syntactically valid address; no DNS lookup, so a request never waits on the network."""
    try:
        return validate_email(address.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        raise ServiceError(
            Code.INVALID_INPUT, _("Please check the email address; it does not look valid.")
        ) from None


async def request_transcript(ctx: Context, visitor: Visitor, address: str) -> None:
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


async def leave_message(ctx: Context, visitor: Visitor, name: str, address: str,
                        text: str) -> str:
    email = valid_address(address)
    name = name.strip()
    if not name:
        raise ServiceError(Code.INVALID_INPUT, _("Please tell us your name."))
    row = OfflineMessage(language=visitor.language, name=name, email=email, text=text,
                         notice_version=visitor.notice_version, created_at=ctx.clock())
    async with ctx.db.begin() as session:
        session.add(row)
    return row.id
