"""`GET /api/v1/openapi.json`: the REST API as an OpenAPI 3.1 document.

Request bodies come from the same pydantic models the handlers validate with, so the document
cannot disagree with them; tests/test_openapi.py fails when a route under /api/v1 is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from chatserver import __version__
from chatserver.errors import HTTP_STATUS, Code
from chatserver.http.admin import AgentPatch, CannedIn, PasswordIn
from chatserver.http.api import NewAgent
from chatserver.http.auth import LoginBody
from chatserver.http.dsar import EmailRequest
from chatserver.http.offline import HandledIn, ReplyIn
from chatserver.validation import Payload


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    access: str  # "public" | "agent" | "admin"
    body: type[Payload] | None = None
    query: dict[str, str] = field(default_factory=dict)
    success: int = 200


OPERATIONS = (
    Operation("get", "/api/v1/widget/config", "Widget configuration, notice summary, UI strings",
              "public", query={"lang": "fi, sv or en"}),
    Operation("get", "/api/v1/privacy-notice", "The privacy notice as JSON", "public",
              query={"lang": "fi, sv or en", "version": "a published notice version"}),
    Operation("post", "/api/v1/auth/login", "Log in; sets the session cookie", "public",
              body=LoginBody),
    Operation("post", "/api/v1/auth/logout", "End the session", "agent"),
    Operation("get", "/api/v1/auth/me", "The logged-in agent and the CSRF token", "agent"),
    Operation("get", "/api/v1/console/strings", "The console's UI strings", "public",
              query={"lang": "fi, sv or en"}),
    Operation("get", "/api/v1/conversations", "List and search conversations", "agent",
              query={"state": "bot, queued, active or closed", "q": "text to search for",
                     "limit": "1..500", "before": "a conversation id to page from"}),
    Operation("get", "/api/v1/conversations/{conversation_id}",
              "One conversation with its messages (audited)", "agent"),
    Operation("get", "/api/v1/agents", "List agents", "admin"),
    Operation("post", "/api/v1/agents", "Add an agent", "admin", body=NewAgent, success=201),
    Operation("patch", "/api/v1/agents/{agent_id}", "Change an agent's role or disable them",
              "admin", body=AgentPatch),
    Operation("post", "/api/v1/agents/{agent_id}/password", "Set an agent's password", "admin",
              body=PasswordIn),
    Operation("get", "/api/v1/canned-responses", "List canned responses", "agent",
              query={"language": "fi, sv or en"}),
    Operation("post", "/api/v1/canned-responses", "Add a canned response", "admin",
              body=CannedIn, success=201),
    Operation("put", "/api/v1/canned-responses/{canned_id}", "Change a canned response",
              "admin", body=CannedIn),
    Operation("delete", "/api/v1/canned-responses/{canned_id}", "Delete a canned response",
              "admin"),
    Operation("get", "/api/v1/offline-messages", "The offline-form inbox (audited)", "agent",
              query={"limit": "1..500", "handled": "true or false"}),
    Operation("post", "/api/v1/offline-messages/{message_id}/handled",
              "Mark an offline message handled or not", "agent", body=HandledIn),
    Operation("post", "/api/v1/offline-messages/{message_id}/reply",
              "Reply to an offline message by email", "agent", body=ReplyIn, success=202),
    Operation("get", "/api/v1/outbox", "Outgoing emails and their state", "admin",
              query={"status": "pending, sent or failed"}),
    Operation("get", "/api/v1/dsar", "Find what is stored for an email address", "admin",
              query={"email": "the data subject's address"}),
    Operation("post", "/api/v1/dsar/export", "Export everything stored for an address", "admin",
              body=EmailRequest),
    Operation("post", "/api/v1/dsar/erase", "Erase everything stored for an address", "admin",
              body=EmailRequest),
    Operation("get", "/api/v1/audit", "The audit log", "admin",
              query={"actor": "agent id", "action": "action name or prefix",
                     "since": "ISO 8601 time", "until": "ISO 8601 time",
                     "before": "an event id to page from", "limit": "1..500"}),
    Operation("get", "/api/v1/retention", "Retention periods in force", "admin"),
    Operation("get", "/api/v1/openapi.json", "This document", "public"),
)

_ERROR = {
    "type": "object",
    "required": ["ok", "error"],
    "properties": {
        "ok": {"const": False},
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"enum": [c.value for c in Code]},
                           "message": {"type": "string"}},
        },
    },
}


def _operation(op: Operation) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _path_names(op.path)
    ]
    parameters += [
        {"name": name, "in": "query", "required": False, "description": text,
         "schema": {"type": "string"}}
        for name, text in op.query.items()
    ]
    if op.access != "public" and op.method != "get":
        parameters.append({
            "name": "X-CSRF-Token", "in": "header", "required": False,
            "description": "Required with the session cookie; not with a bearer token.",
            "schema": {"type": "string"},
        })
    responses: dict[str, Any] = {
        str(op.success): {"description": "Done", "content": {"application/json": {
            "schema": {"type": "object", "required": ["ok"],
                       "properties": {"ok": {"const": True}}}}}},
    }
    for status in sorted({HTTP_STATUS[c] for c in Code}):
        responses[str(status)] = {"$ref": "#/components/responses/Error"}
    document: dict[str, Any] = {
        "summary": op.summary,
        "operationId": f"{op.method}_{op.path}".replace("/", "_").replace("{", "")
        .replace("}", "").replace("-", "_").replace(".", "_"),
        "parameters": parameters,
        "responses": responses,
        "x-access": op.access,
    }
    if op.access != "public":
        document["security"] = [{"session": []}, {"bearer": []}]
    if op.body is not None:
        document["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": op.body.model_json_schema(mode="validation")}}}
    return document


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {"title": "chatserver REST API", "version": __version__,
                 "description": "See docs/protocol.md for the socket.io events."},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "chatserver_session"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
            "responses": {"Error": {"description": "Refused, in the contract's error shape",
                                    "content": {"application/json": {"schema": _ERROR}}}},
        },
    }


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(document())
