"""A shared server for the security matrices (tests/test_security*.py): one app per module with
an admin, an agent, their API tokens, a visitor conversation and a listed host origin, plus
the callers of the authorisation matrix and what each of them may do."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlmodel import col, select

from chatserver.app import create_app
from chatserver.db.models import Conversation, Message
from chatserver.http.openapi import Operation
from chatserver.services import agents
from tests.helpers import PASSWORD, Chat, free_port, make_settings

HOST_ORIGIN = "https://shop.example.fi"
FOREIGN_ORIGIN = "https://evil.example"
ADMIN, AGENT = "admin@example.fi", "agent@example.fi"
SECRET_TEXT = "my private question about order 4711"

# The callers of the REST matrix. A visitor's resume token is tried as a bearer token and as
# the session cookie: it must open nothing.
CALLERS = ("anonymous", "visitor_bearer", "visitor_cookie", "agent_bearer", "agent_cookie",
           "admin_bearer", "admin_cookie")


def denial(access: str, caller: str) -> tuple[int, str] | None:
    """What `caller` gets from an operation with this `access` ("public" | "agent" | "admin"):
    None when allowed, else (HTTP status, error code)."""
    if access == "public":
        return None
    if caller in ("anonymous", "visitor_bearer", "visitor_cookie"):
        return 401, "unauthorized"
    if access == "admin" and caller.startswith("agent_"):
        return 403, "forbidden"
    return None


@dataclass
class World:
    chat: Chat
    admin_token: str
    agent_token: str
    admin_id: int
    agent_id: int
    visitor_token: str
    conversation_id: str

    @property
    def url(self) -> str:
        return self.chat.url

    async def session_cookie(self, email: str) -> tuple[str, str]:
        """A fresh login session: (cookie value, CSRF token)."""
        async with aiohttp.ClientSession() as http, http.post(
            f"{self.url}/api/v1/auth/login", json={"email": email, "password": PASSWORD}
        ) as response:
            body = await response.json()
            assert response.status == 200, body
            return response.cookies["chatserver_session"].value, body["csrf_token"]

    async def headers(self, caller: str) -> dict[str, str]:
        """Request headers that authenticate as `caller` (cookie callers send their CSRF)."""
        if caller == "anonymous":
            return {}
        if caller == "visitor_bearer":
            return {"Authorization": f"Bearer {self.visitor_token}"}
        if caller == "visitor_cookie":
            return {"Cookie": f"chatserver_session={self.visitor_token}"}
        role, via = caller.split("_")
        if via == "bearer":
            token = self.admin_token if role == "admin" else self.agent_token
            return {"Authorization": f"Bearer {token}"}
        cookie, csrf = await self.session_cookie(ADMIN if role == "admin" else AGENT)
        return {"Cookie": f"chatserver_session={cookie}", "X-CSRF-Token": csrf}

    def path(self, op: Operation) -> str:
        """The operation's path with its parameters filled: the real conversation, and ids that
        do not exist for the rest, so an allowed call changes nothing."""
        return (op.path.replace("{conversation_id}", self.conversation_id)
                .replace("{agent_id}", "999999").replace("{canned_id}", "999999")
                .replace("{message_id}", "nonexistent").replace("{session_id}", "0" * 32)
                .replace("{token_id}", "999999").replace("{passkey_id}", "999999"))

    async def conversation_state(self, conversation_id: str) -> tuple[Any, ...]:
        """What another caller must not change: the row and its messages."""
        async with self.chat.ctx.db() as session:
            row = await session.get(Conversation, conversation_id)
            texts = (await session.exec(select(Message.text).where(
                Message.conversation_id == conversation_id).order_by(col(Message.seq)))).all()
        if row is None:
            return ("gone",)
        return (row.state, row.last_seq, row.agent_id, row.transcript_email, tuple(texts))


def op_id(op: Operation) -> str:
    return f"{op.method.upper()}:{op.path}"


async def start_world(tmp: Path, template: Path, **overrides: Any) -> tuple[World, TestServer]:
    shutil.copy(template, tmp / "chatserver.db")
    settings = make_settings(tmp, free_port(), allowed_origins=[HOST_ORIGIN], **overrides)
    app = create_app(settings)
    server = TestServer(app, port=settings.port)
    await server.start_server()
    chat = Chat(server, settings, app)
    admin = await chat.add_agent(ADMIN, "Aada", role="admin")
    agent = await chat.add_agent(AGENT, "Anna")
    visitor = await chat.visitor("en")
    opened = await visitor.call("message", {"client_id": "1", "text": SECRET_TEXT})
    assert opened["ok"], opened
    world = World(
        chat=chat,
        admin_token=await agents.create_api_token(chat.ctx, admin.id, "matrix"),
        agent_token=await agents.create_api_token(chat.ctx, agent.id, "matrix"),
        admin_id=admin.id, agent_id=agent.id,
        visitor_token=visitor.welcome["token"],
        conversation_id=opened["conversation"]["id"],
    )
    return world, server


@asynccontextmanager
async def running_world(tmp_path_factory: pytest.TempPathFactory, template: Path,
                        **overrides: Any) -> AsyncIterator[World]:
    """The module-scoped server of a test file (each file declares its own `world` fixture)."""
    built, server = await start_world(tmp_path_factory.mktemp("security"), template,
                                      **overrides)
    try:
        yield built
    finally:
        await built.chat.close()
        await server.close()


def assert_error(status: int, body: Any, expected: tuple[int, str]) -> None:
    """The contract's error shape with the expected status and code."""
    assert (status, body["error"]["code"]) == expected, (status, body)
    assert body["ok"] is False and isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
