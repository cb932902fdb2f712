"""The /agent namespace: the console's side of the wire contract (docs/protocol.md)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any

import socketio

from chatserver.db.models import Agent
from chatserver.errors import Code, ServiceError
from chatserver.i18n import gettext_noop as _
from chatserver.realtime.base import Ack, ChatNamespace, Connection, ok
from chatserver.realtime.payloads import (
    AgentAuth,
    AgentHistory,
    AgentMessage,
    AgentNote,
    AgentTyping,
    ConversationRef,
    Empty,
    Presence,
    Transfer,
)
from chatserver.realtime.queue_feed import SnapshotFeed
from chatserver.realtime.relay import ObservedManager
from chatserver.services import (
    agents,
    api_tokens,
    conversations,
    notes,
    presence,
    queue,
    routing,
)
from chatserver.services.assistant import faq_learning
from chatserver.services.context import Context
from chatserver.services.events import (
    AGENT_NS,
    ALL_AGENTS_ROOM,
    QUEUE_UPDATE,
    QUEUE_UPDATES_ROOM,
    agent_room,
)
from chatserver.services.views import agent_view
from chatserver.validation import message_text, parse

SESSION_COOKIE = "chatserver_session"
# What a `read` API token may send (services/api_tokens.py); every other event is `forbidden`.
READ_EVENTS = frozenset({"history", "queue"})


@dataclass(slots=True)
class AgentConnection(Connection):
    agent: Agent | None = None
    session_token: str | None = None
    api_token: str | None = None
    checked_at: float = 0.0
    read_only: bool = False  # a `read` API token: READ_EVENTS only

    @property
    def me(self) -> Agent:
        assert self.agent is not None
        return self.agent


def session_cookie(environ: dict[str, Any]) -> str | None:
    raw = environ.get("HTTP_COOKIE")
    if not raw:
        return None
    try:
        morsel = SimpleCookie(raw).get(SESSION_COOKIE)
    except CookieError:
        return None
    return morsel.value if morsel else None


class AgentNamespace(ChatNamespace[AgentConnection]):
    # An agent's next event starts while their message waits for its commit (realtime/base.py).
    pipelined = frozenset({"message"})

    def __init__(self, ctx: Context) -> None:
        super().__init__(AGENT_NS, ctx)
        self.handlers = {
            "presence": self.on_presence,
            "claim": self.on_claim,
            "message": self.on_message,
            "typing": self.on_typing,
            "transfer": self.on_transfer,
            "close": self.on_close,
            "history": self.on_history,
            "queue": self.on_queue,
            "note": self.on_note,
        }
        self.snapshots: SnapshotFeed | None = None  # set once registered: attach_queue_feed

    def attach_queue_feed(self, server: socketio.AsyncServer, manager: ObservedManager) -> None:
        """Whole queues for this node's sockets that take no deltas (queue_feed.py)."""
        self.snapshots = SnapshotFeed(self.ctx, server)
        manager.listen(AGENT_NS, QUEUE_UPDATE, self.snapshots.changed)

    async def _authenticate(self, session_token: str | None,
                            api_token: str | None) -> api_tokens.Grant | None:
        if session_token:
            found = await agents.agent_for_session(self.ctx, session_token)
            # A session still at a login step (a one-time code due) opens no socket.
            if found is None or found[1].stage:
                return None
            return api_tokens.Grant(found[0], read_only=False)
        if api_token:
            return await api_tokens.check(self.ctx, api_token)
        return None

    async def connect(self, sid: str, environ: dict[str, Any], auth: Any) -> bool:
        default = self.ctx.translator.language(environ.get("HTTP_ACCEPT_LANGUAGE"))
        origin = environ.get("HTTP_ORIGIN")
        # The console is served by this server; no other site may open an agent socket.
        if origin and origin.rstrip("/") != self.ctx.settings.own_origin:
            raise self.refuse(ServiceError(Code.FORBIDDEN), default)
        try:
            credentials = parse(AgentAuth, auth)
        except ServiceError as error:
            raise self.refuse(error, default) from None
        session_token = session_cookie(environ)
        grant = await self._authenticate(session_token, credentials.api_token)
        if grant is None:
            raise self.refuse(ServiceError(Code.UNAUTHORIZED), default)
        agent = grant.agent
        connection = AgentConnection(
            sid=sid, language=agent.language, bucket=self.new_bucket(), agent=agent,
            session_token=session_token, api_token=None if session_token else credentials.api_token,
            checked_at=time.monotonic(), read_only=grant.read_only,
        )
        self.connections[sid] = connection
        await self.enter_room(sid, ALL_AGENTS_ROOM)
        await self.enter_room(sid, agent_room(agent.id or 0))
        if credentials.queue_version >= 2:
            await self.enter_room(sid, QUEUE_UPDATES_ROOM)
        elif self.snapshots is not None:
            await self.snapshots.add(sid)
        await presence.connected(self.ctx, agent, sid)
        await self.emit("welcome", {
            "agent": agent_view(agent),
            "queue": await queue.waiting(self.ctx),
            "assigned": await queue.assigned(self.ctx, agent),
            "online": [{"id": a.id, "name": a.display_name}
                       for a in await presence.available_agents(self.ctx)],
        }, to=sid)
        # A queue change committed while the welcome was being assembled may have reached this
        # socket before the welcome and been overwritten by its older snapshot: send the queue
        # once more, taken after the welcome went out (to both versions; see docs/protocol.md).
        await self.emit("queue", {"conversations": await queue.waiting(self.ctx)}, to=sid)
        return True

    async def disconnected(self, connection: AgentConnection) -> None:
        if self.snapshots is not None:
            self.snapshots.remove(connection.sid)
        await presence.disconnected(self.ctx, connection.sid)

    async def before_event(self, connection: AgentConnection, event: str) -> None:
        if connection.read_only and event not in READ_EVENTS:
            raise ServiceError(Code.FORBIDDEN, _("This API token may only read."))
        recheck = self.ctx.settings.auth.session_recheck_seconds
        if time.monotonic() - connection.checked_at < recheck:
            return
        if not await self.recheck(connection):
            # Answer this event first, then drop the socket.
            self.server.start_background_task(self._disconnect_soon, connection.sid)
            raise ServiceError(Code.UNAUTHORIZED, _("Your session has ended. Please log in again."))

    async def recheck(self, connection: AgentConnection) -> bool:
        """Is the connection's session or token still live? (Refreshes the agent.)"""
        grant = await self._authenticate(connection.session_token, connection.api_token)
        if grant is None:
            return False
        connection.agent, connection.checked_at = grant.agent, time.monotonic()
        return True

    async def sweep(self) -> None:
        """Close this node's sockets whose session or token ended (another session ended it,
        a password change, a revoked token) even while they send nothing; run every
        `auth.session_recheck_seconds` by the app."""
        recheck = self.ctx.settings.auth.session_recheck_seconds
        for connection in list(self.connections.values()):
            if time.monotonic() - connection.checked_at < recheck:
                continue
            if not await self.recheck(connection):
                # The console reconnects, is refused `unauthorized` and shows the login.
                await self.disconnect(connection.sid)

    async def _disconnect_soon(self, sid: str) -> None:
        await asyncio.sleep(0.2)
        await self.disconnect(sid)

    def sids(self) -> dict[str, int]:
        """This node's live agent sockets, {sid: agent id} (for the presence heartbeat)."""
        return {sid: c.me.id or 0 for sid, c in self.connections.items()}

    async def on_queue(self, conn: AgentConnection, data: Any) -> Ack:
        """The whole queue now, for a client that lost track of it."""
        parse(Empty, data)
        return ok(conversations=await queue.waiting(self.ctx))

    async def on_presence(self, conn: AgentConnection, data: Any) -> Ack:
        payload = parse(Presence, data)
        await presence.set_status(self.ctx, conn.me, payload.status)
        return ok()

    async def on_claim(self, conn: AgentConnection, data: Any) -> Ack:
        payload = parse(ConversationRef, data)
        conversation = await routing.claim(self.ctx, conn.me, payload.conversation_id)
        return ok(conversation=conversation,
                  **await self._assistant_actions(payload.conversation_id))

    async def _assistant_actions(self, conversation_id: str) -> dict[str, Any]:
        """`assistant`: what the FAQ assistant did in the conversation, while it is on
        (docs/protocol.md); read after the service let this agent see the conversation."""
        if self.ctx.assistant is None:
            return {}
        return {"assistant": await faq_learning.assistant_actions(self.ctx, conversation_id)}

    async def on_message(self, conn: AgentConnection, data: Any) -> Ack:
        payload = parse(AgentMessage, data)
        text = message_text(payload.text, self.ctx.settings.limits.max_message_chars)
        message = await conversations.post_agent_message(
            self.ctx, conn.me, payload.conversation_id, payload.client_id, text, sid=conn.sid
        )
        return ok(message=message)

    async def on_typing(self, conn: AgentConnection, data: Any) -> Ack:
        payload = parse(AgentTyping, data)
        await conversations.agent_typing(self.ctx, conn.me, payload.conversation_id,
                                         payload.typing)
        return ok()

    async def on_transfer(self, conn: AgentConnection, data: Any) -> Ack:
        payload = parse(Transfer, data)
        await routing.transfer(self.ctx, conn.me, payload.conversation_id, payload.agent_id)
        return ok()

    async def on_close(self, conn: AgentConnection, data: Any) -> Ack:
        payload = parse(ConversationRef, data)
        await routing.close(self.ctx, payload.conversation_id, by_agent=conn.me)
        return ok()

    async def on_history(self, conn: AgentConnection, data: Any) -> Ack:
        payload = parse(AgentHistory, data)
        history = await conversations.agent_history(
            self.ctx, conn.me, payload.conversation_id, payload.after_seq)
        return ok(**history, **await self._assistant_actions(payload.conversation_id))

    async def on_note(self, conn: AgentConnection, data: Any) -> Ack:
        payload = parse(AgentNote, data)
        text = message_text(payload.text, self.ctx.settings.limits.max_message_chars)
        note = await notes.add(self.ctx, conn.me, payload.conversation_id, payload.client_id,
                               text, sid=conn.sid)
        return ok(note=note)
