"""Typed keys for what the aiohttp application shares (no module-level singletons)."""

from __future__ import annotations

import socketio
from aiohttp import web

from chatserver.realtime.agent import AgentNamespace
from chatserver.realtime.visitor import VisitorNamespace
from chatserver.services.context import Context
from chatserver.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
CONTEXT = web.AppKey("context", Context)
SIO = web.AppKey("sio", socketio.AsyncServer)
VISITORS = web.AppKey("visitor_namespace", VisitorNamespace)
AGENTS = web.AppKey("agent_namespace", AgentNamespace)
