"""The /visitor namespace: the widget's side of the wire contract (docs/protocol.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chatserver.db.models import Conversation
from chatserver.errors import Code, ServiceError
from chatserver.http.proxies import request_address
from chatserver.i18n import gettext_noop as _
from chatserver.realtime.base import Ack, ChatNamespace, Connection, ok
from chatserver.realtime.payloads import (
    Empty,
    History,
    OfflineMessageIn,
    Rating,
    TranscriptRequest,
    Typing,
    VisitorAuth,
    VisitorMessage,
)
from chatserver.services import conversations, hours, presence, queue, reports, routing
from chatserver.services.address_limits import counted_as
from chatserver.services.context import Context
from chatserver.services.conversations import Visitor
from chatserver.services.email import offline
from chatserver.services.events import VISITOR_NS, conversation_room
from chatserver.services.privacy import notice, rights
from chatserver.services.tokens import token_hash
from chatserver.validation import message_text, parse


@dataclass(slots=True)
class VisitorConnection(Connection):
    visitor: Visitor | None = None
    offline_sent: int = 0

    @property
    def me(self) -> Visitor:
        assert self.visitor is not None
        return self.visitor


class VisitorNamespace(ChatNamespace[VisitorConnection]):
    def __init__(self, ctx: Context) -> None:
        super().__init__(VISITOR_NS, ctx)
        self.handlers = {
            "message": self.on_message,
            "typing": self.on_typing,
            "handoff": self.on_handoff,
            "transcript": self.on_transcript,
            "close": self.on_close,
            "history": self.on_history,
            "offline_message": self.on_offline_message,
            "export": self.on_export,
            "erase": self.on_erase,
            "rate": self.on_rate,
        }

    async def connect(self, sid: str, environ: dict[str, Any], auth: Any) -> bool:
        default = self.ctx.settings.default_language
        try:
            credentials = parse(VisitorAuth, auth)
        except ServiceError as error:
            raise self.refuse(error, default) from None
        language = self.ctx.translator.language(credentials.lang)
        current = notice.current_version(self.ctx)
        token, conversation = await conversations.resume(self.ctx, credentials.token)
        # A chat already under way keeps the notice it was started with; new ones need the
        # current notice. Nothing is stored before this check passes.
        resuming_under_old_notice = (
            conversation is not None
            and conversation.state != "closed"
            and credentials.notice_version == conversation.notice_version
        )
        if credentials.notice_version != current and not resuming_under_old_notice:
            raise self.refuse(ServiceError(Code.NOTICE_REQUIRED), language,
                              notice=notice.summary(self.ctx, language))
        address_key = self._address_key(environ)
        if address_key is not None:
            try:
                self.ctx.address_limits.open_connection(
                    address_key, self.ctx.settings.limits.visitor_connections_per_address)
            except ServiceError as error:
                raise self.refuse(error, language) from None
        visitor = Visitor(
            token_hash=token_hash(token), language=language,
            notice_version=conversation.notice_version if conversation else current,
            conversation_id=conversation.id if conversation else None,
            address_key=address_key,
            previous_id=await conversations.previous_of(self.ctx, credentials.previous,
                                                        conversation),
            **notice.metadata(self.ctx, environ.get("HTTP_USER_AGENT"),
                              credentials.page_url or environ.get("HTTP_REFERER")),
        )
        self.connections[sid] = VisitorConnection(
            sid=sid, language=language, bucket=self.new_bucket(), visitor=visitor
        )
        try:
            await self._welcome(sid, token, conversation)
        except BaseException:
            # python-socketio calls no disconnect for a connect that failed.
            if (connection := self.connections.pop(sid, None)) is not None:
                await self.disconnected(connection)
            raise
        return True

    def _address_key(self, environ: dict[str, Any]) -> str | None:
        request = environ.get("aiohttp.request")
        if request is None:
            return None
        address = request_address(request, self.ctx.settings.trusted_proxies)
        return self.ctx.address_limits.key_for("address", counted_as(address))

    async def disconnected(self, connection: VisitorConnection) -> None:
        if connection.me.address_key is not None:
            self.ctx.address_limits.close_connection(connection.me.address_key)

    async def _welcome(self, sid: str, token: str, conversation: Conversation | None) -> None:
        welcome: dict[str, Any] = {
            "token": token,
            "online": await presence.is_online(self.ctx),
            "back_at": hours.back_at(self.ctx, self.connections[sid].language),
            "conversation": None,
        }
        if conversation is not None:
            await self.enter_room(sid, conversation_room(conversation.id))
            welcome["conversation"] = {
                **await queue.visitor_view(self.ctx, conversation),
                "last_seq": conversation.last_seq,
                "messages": await conversations.history(self.ctx, conversation.id, 0),
            }
        await self.emit("welcome", welcome, to=sid)

    async def on_message(self, conn: VisitorConnection, data: Any) -> Ack:
        payload = parse(VisitorMessage, data)
        text = message_text(payload.text, self.ctx.settings.limits.max_message_chars)
        had_conversation = conn.me.conversation_id is not None
        posted = await conversations.post_visitor_message(
            self.ctx, conn.me, payload.client_id, text, sid=conn.sid, choice=payload.choice
        )
        if not had_conversation and conn.me.conversation_id is not None:
            await self.enter_room(conn.sid, conversation_room(conn.me.conversation_id))
        if posted.conversation is not None:
            return ok(message=posted.message, conversation=posted.conversation)
        return ok(message=posted.message)

    async def on_typing(self, conn: VisitorConnection, data: Any) -> Ack:
        payload = parse(Typing, data)
        await conversations.visitor_typing(self.ctx, conn.me, payload.typing)
        return ok()

    async def on_handoff(self, conn: VisitorConnection, data: Any) -> Ack:
        parse(Empty, data)
        view = await routing.handoff(self.ctx, conn.me, sid=conn.sid)
        await self.enter_room(conn.sid, conversation_room(view["id"]))
        return ok(conversation=view)

    async def on_transcript(self, conn: VisitorConnection, data: Any) -> Ack:
        payload = parse(TranscriptRequest, data)
        await offline.request_transcript(self.ctx, conn.me, payload.email)
        return ok()

    async def on_close(self, conn: VisitorConnection, data: Any) -> Ack:
        parse(Empty, data)
        conversation_id = self._own_conversation(conn)
        await routing.close(self.ctx, conversation_id, visitor=conn.me)
        return ok()

    async def on_history(self, conn: VisitorConnection, data: Any) -> Ack:
        payload = parse(History, data)
        if conn.me.conversation_id is None:
            return ok(messages=[])
        return ok(messages=await conversations.history(
            self.ctx, conn.me.conversation_id, payload.after_seq))

    async def on_offline_message(self, conn: VisitorConnection, data: Any) -> Ack:
        payload = parse(OfflineMessageIn, data)
        text = message_text(payload.text, self.ctx.settings.limits.max_message_chars)
        if conn.offline_sent >= self.ctx.settings.limits.offline_per_connection:
            raise ServiceError(Code.RATE_LIMITED, _("You have already left several messages. "
                                                    "We will answer them as soon as we can."))
        message_id = await offline.leave_message(
            self.ctx, conn.me, payload.name, payload.email, text
        )
        conn.offline_sent += 1
        return ok(id=message_id)

    async def on_export(self, conn: VisitorConnection, data: Any) -> Ack:
        parse(Empty, data)
        return ok(data=await rights.export_conversation(self.ctx, conn.me))

    async def on_erase(self, conn: VisitorConnection, data: Any) -> Ack:
        parse(Empty, data)
        conversation_id = self._own_conversation(conn)
        await rights.erase_conversation(self.ctx, conn.me)
        await self.leave_room(conn.sid, conversation_room(conversation_id))
        return ok()

    async def on_rate(self, conn: VisitorConnection, data: Any) -> Ack:
        payload = parse(Rating, data)
        await reports.rate(self.ctx, self._own_conversation(conn), payload.score,
                           (payload.comment or "").strip() or None)
        return ok()

    def _own_conversation(self, conn: VisitorConnection) -> str:
        if conn.me.conversation_id is None:
            raise ServiceError(Code.NOT_FOUND, _("You have no conversation yet."))
        return conn.me.conversation_id
