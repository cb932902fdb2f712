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
from chatserver.http.auth import CodeBody, LoginBody
from chatserver.http.dsar import EmailRequest
from chatserver.http.faq import FaqEvaluate, FaqSave, FaqTry, ReviewAction
from chatserver.http.hours import HoursIn
from chatserver.http.offline import HandledIn, ReplyIn
from chatserver.http.openapi_schemas import RESPONSES
from chatserver.http.passkeys import PasskeyAssertion, PasskeyRegistration
from chatserver.services import search
from chatserver.services.archive import STATES
from chatserver.settings import LANGUAGES
from chatserver.validation import Payload

# A day (`2026-11-22`) or a moment (`2026-11-22T08:00:00Z`) for the audit log's time filters.
MOMENT = {"anyOf": [{"type": "string", "format": "date"},
                    {"type": "string", "format": "date-time"}]}


@dataclass(frozen=True)
class Param:
    description: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    access: str  # "public" | "agent" | "admin"
    body: type[Payload] | None = None
    query: dict[str, Param] = field(default_factory=dict)
    success: int = 200
    body_required: bool = True
    errors: tuple[int, ...] = ()  # error statuses beyond those error_statuses() derives


def _or_empty(schema: dict[str, Any]) -> dict[str, Any]:
    """These filters treat an empty value (`?state=`, as a form sends it) as not given."""
    return {"anyOf": [schema, {"type": "string", "maxLength": 0}]}


def _enum(description: str, *values: str) -> Param:
    return Param(description + "; empty means any",
                 {"type": "string", "enum": [*values, ""]})


def _whole(low: int, high: int, description: str = "") -> Param:
    return Param(description or f"{low}..{high}",
                 {"type": "integer", "minimum": low, "maximum": high})


# `lang` falls back to the Accept-Language header, then to the default language, so any value
# is accepted; the three listed are the ones that select a language.
LANG = Param("fi, sv or en; anything else falls back to Accept-Language, then the default",
             {"type": "string", "examples": ["fi", "sv", "en"]})
LIMIT = _whole(1, 500)
# Free text in a query (a search): the characters a text field may hold.
TEXT = {"type": "string", "pattern": "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]*$"}
# A search: free text with a letter or a digit (search.WORD_CHARS) in its first 200 characters.
_FREE = "[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]"
SEARCH_WORDS = {"type": "string",
                "pattern": f"^{_FREE}{{0,199}}[{search.WORD_CHARS}]{_FREE}*$"}
# Path parameters: the formats ids really have; anything else is answered 404 (not_found).
PATH_PARAMS = {
    "conversation_id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
    "message_id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
    "agent_id": {"type": "string", "pattern": "^[0-9]{1,10}$"},
    "canned_id": {"type": "string", "pattern": "^[0-9]{1,10}$"},
    "session_id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
    "token_id": {"type": "string", "pattern": "^[0-9]{1,10}$"},
    "passkey_id": {"type": "string", "pattern": "^[0-9]{1,10}$"},
}

OPERATIONS = (
    Operation("get", "/api/v1/widget/config", "Widget configuration, notice summary, UI strings",
              "public", query={"lang": LANG}),
    Operation("get", "/api/v1/privacy-notice", "The privacy notice as JSON", "public",
              errors=(404,),
              query={"lang": LANG, "version": Param("a published notice version", TEXT)}),
    Operation("post", "/api/v1/auth/login", "Log in; sets the session cookie", "public",
              body=LoginBody, errors=(401,)),
    Operation("post", "/api/v1/auth/logout", "End the session", "agent"),
    Operation("get", "/api/v1/auth/me", "The logged-in agent and the CSRF token", "agent"),
    Operation("post", "/api/v1/auth/verify",
              "The login's second step: a one-time code or a recovery code", "agent",
              body=CodeBody, errors=(409,)),
    Operation("get", "/api/v1/auth/second-factor", "Whether your one-time codes are on",
              "agent"),
    Operation("post", "/api/v1/auth/second-factor/start",
              "A new secret and its QR code to set up one-time codes", "agent", errors=(409,)),
    Operation("post", "/api/v1/auth/second-factor/confirm",
              "Turn one-time codes on with a first code; returns ten recovery codes", "agent",
              body=CodeBody, errors=(409,)),
    Operation("delete", "/api/v1/auth/second-factor", "Turn your one-time codes off", "agent"),
    Operation("post", "/api/v1/agents/{agent_id}/second-factor/reset",
              "Reset an agent's one-time codes (ends their sessions)", "admin"),
    Operation("post", "/api/v1/auth/passkey-options",
              "Options to register a passkey (WebAuthn, JSON form)", "agent"),
    Operation("post", "/api/v1/auth/passkeys", "Register a passkey", "agent",
              body=PasskeyRegistration),
    Operation("get", "/api/v1/auth/passkeys", "Your passkeys: name, added, last used", "agent"),
    Operation("delete", "/api/v1/auth/passkeys/{passkey_id}", "Remove one of your passkeys",
              "agent"),
    Operation("post", "/api/v1/auth/passkey-login/options",
              "Options to log in with a passkey", "public"),
    Operation("post", "/api/v1/auth/passkey-login",
              "Log in with a passkey alone; sets the session cookie", "public",
              body=PasskeyAssertion),
    Operation("post", "/api/v1/auth/verify/passkey-options",
              "Options for a passkey as the login's second step", "agent", errors=(409,)),
    Operation("post", "/api/v1/auth/verify/passkey",
              "The login's second step with a passkey", "agent", body=PasskeyAssertion,
              errors=(409,)),
    Operation("get", "/api/v1/auth/sessions",
              "Your sessions: started, last used, browser family", "agent"),
    Operation("delete", "/api/v1/auth/sessions/{session_id}", "End one of your sessions",
              "agent"),
    Operation("post", "/api/v1/auth/logout-everywhere", "End all your sessions, this one too",
              "agent"),
    Operation("get", "/api/v1/auth/tokens",
              "Your API tokens: name, scope, expiry, last use", "agent"),
    Operation("delete", "/api/v1/auth/tokens/{token_id}", "Revoke one of your API tokens",
              "agent"),
    Operation("get", "/api/v1/console/strings", "The console's UI strings", "public",
              query={"lang": LANG}),
    Operation("get", "/api/v1/conversations", "List and search conversations", "agent",
              query={"state": _enum("bot, queued, active or closed", *STATES),
                     "q": Param("text to search for (the first 200 characters count)", TEXT),
                     "limit": LIMIT,
                     "before": Param("a conversation id to page from",
                                     _or_empty(PATH_PARAMS["conversation_id"]))},
              errors=(404,)),
    Operation("get", "/api/v1/conversations/{conversation_id}",
              "One conversation with its messages and notes (audited)", "agent"),
    Operation("get", "/api/v1/search",
              "Search stored messages and notes by words (admins: all; agents: their own "
              "conversations); audited without the words", "agent",
              query={"q": Param("the words (the first 200 characters count; at least one "
                                "letter or digit among them)", SEARCH_WORDS, required=True),
                     "from": Param("a date (from its start, UTC) or an ISO 8601 time",
                                   _or_empty(MOMENT)),
                     "to": Param("a date (to its end, UTC) or an ISO 8601 time",
                                 _or_empty(MOMENT)),
                     "language": _enum("fi, sv or en", *LANGUAGES)}),
    Operation("get", "/api/v1/agents", "List agents", "admin"),
    Operation("post", "/api/v1/agents", "Add an agent", "admin", body=NewAgent, success=201,
              errors=(409,)),
    Operation("patch", "/api/v1/agents/{agent_id}",
              "Change an agent's role or disable them (not one's own account)", "admin",
              body=AgentPatch),
    Operation("post", "/api/v1/agents/{agent_id}/password", "Set an agent's password", "admin",
              body=PasswordIn),
    Operation("get", "/api/v1/canned-responses", "List canned responses", "agent",
              query={"language": _enum("fi, sv or en", *LANGUAGES)}),
    Operation("post", "/api/v1/canned-responses", "Add a canned response", "admin",
              body=CannedIn, success=201, errors=(409,)),
    Operation("put", "/api/v1/canned-responses/{canned_id}", "Change a canned response",
              "admin", body=CannedIn, errors=(409,)),
    Operation("delete", "/api/v1/canned-responses/{canned_id}", "Delete a canned response",
              "admin"),
    Operation("get", "/api/v1/offline-messages", "The offline-form inbox (audited)", "agent",
              query={"limit": LIMIT, "handled": _enum("true or false", "true", "false")}),
    Operation("post", "/api/v1/offline-messages/{message_id}/handled",
              "Mark an offline message handled (the default) or not", "agent", body=HandledIn,
              body_required=False),
    Operation("post", "/api/v1/offline-messages/{message_id}/reply",
              "Reply to an offline message by email", "agent", body=ReplyIn, success=202),
    Operation("get", "/api/v1/outbox", "Outgoing emails and their state", "admin",
              query={"status": _enum("pending, sent or failed", "pending", "sent", "failed"),
                     "limit": LIMIT}),
    Operation("get", "/api/v1/dsar", "Find what is stored for an email address", "admin",
              errors=(413,),
              query={"email": Param("the data subject's address",
                                    {"type": "string", "format": "email", "minLength": 3,
                                     "maxLength": 254}, required=True)}),
    Operation("post", "/api/v1/dsar/export", "Export everything stored for an address", "admin",
              body=EmailRequest),
    Operation("post", "/api/v1/dsar/erase", "Erase everything stored for an address", "admin",
              body=EmailRequest),
    Operation("get", "/api/v1/audit", "The audit log", "admin",
              query={"actor": Param("an agent id, or visitor, system or cli",
                                    {"type": "string",
                                     "pattern": "^([0-9]+|agent|visitor|system|cli)?$"}),
                     "action": Param("action name or prefix (the first 40 characters count)",
                                     TEXT),
                     "since": Param("a date (the whole day, UTC) or an ISO 8601 time",
                                    _or_empty(MOMENT)),
                     "until": Param("a date (the whole day, UTC) or an ISO 8601 time",
                                    _or_empty(MOMENT)),
                     "before": Param("an event id to page from",
                                     _or_empty({"type": "integer", "minimum": 0,
                                                "maximum": 10**18 - 1})),
                     "limit": LIMIT}),
    Operation("get", "/api/v1/retention", "Retention periods in force", "admin"),
    Operation("get", "/api/v1/business-hours", "The business hours", "agent"),
    Operation("put", "/api/v1/business-hours", "Set the business hours", "admin",
              body=HoursIn),
    Operation("get", "/api/v1/reports",
              "Anonymous report figures (an agent gets their own)", "agent",
              query={"from": Param("first day (in time_zone); default 29 days before `to`",
                                   _or_empty({"type": "string", "format": "date"})),
                     "to": Param("last day (in time_zone); default today",
                                 _or_empty({"type": "string", "format": "date"})),
                     "language": _enum("fi, sv or en", *LANGUAGES)}),
    Operation("get", "/api/v1/openapi.json", "This document", "public"),
    Operation("get", "/api/v1/faq", "The FAQ in use, where it comes from, its labelled "
              "questions", "admin"),
    Operation("put", "/api/v1/faq", "Save the FAQ as the new live version (audited)", "admin",
              body=FaqSave, errors=(409,)),
    Operation("post", "/api/v1/faq/try", "Which entry answers a question, in a draft and live",
              "admin", body=FaqTry),
    Operation("post", "/api/v1/faq/evaluate",
              "The labelled questions against the live FAQ and a draft", "admin",
              body=FaqEvaluate),
    Operation("get", "/api/v1/faq/review",
              "Questions the assistant handed off or was unsure of (audited)", "admin"),
    Operation("post", "/api/v1/faq/review/{message_id}",
              "Add a reviewed question to the FAQ or the labelled questions, or dismiss it",
              "admin", body=ReviewAction, errors=(409,)),
)

def error_statuses(op: Operation) -> list[int]:
    """The statuses an error of this operation can have; tests/test_api_fuzz.py fails on any
    other. A method the path does not have gets 405 with `Allow` (not listed: not this method)."""
    statuses = {HTTP_STATUS[Code.RATE_LIMITED], HTTP_STATUS[Code.UNAVAILABLE], *op.errors}
    if op.body is not None or op.query:
        statuses.add(HTTP_STATUS[Code.INVALID_INPUT])
    if op.body is not None:
        statuses.add(HTTP_STATUS[Code.TOO_LARGE])
    if op.access != "public":
        statuses.add(HTTP_STATUS[Code.UNAUTHORIZED])
    if op.access != "public" or op.method != "get":  # admins only, CSRF, another site's Origin
        statuses.add(HTTP_STATUS[Code.FORBIDDEN])
    if "{" in op.path:
        statuses.add(HTTP_STATUS[Code.NOT_FOUND])
    return sorted(statuses)


_ERROR = {
    "type": "object",
    "required": ["ok", "error"],
    "properties": {
        "ok": {"const": False},
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"enum": [c.value for c in Code]},
                           "message": {"type": "string"},
                           "field": {"type": "string",
                                     "description": "the input field it is about, when one "
                                     "is (the FAQ editor: entries.2.fi.answer)"}},
        },
    },
}


def _operation(op: Operation) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": PATH_PARAMS[name]}
        for name in _path_names(op.path)
    ]
    parameters += [
        {"name": name, "in": "query", "required": param.required,
         "description": param.description, "schema": param.schema}
        for name, param in op.query.items()
    ]
    if op.access != "public" and op.method != "get":
        parameters.append({
            "name": "X-CSRF-Token", "in": "header", "required": False,
            "description": "Required with the session cookie; not with a bearer token.",
            "schema": {"type": "string"},
        })
    responses: dict[str, Any] = {
        str(op.success): {"description": "Done", "content": {"application/json": {
            "schema": RESPONSES[(op.method, op.path)]}}},
    }
    for status in error_statuses(op):
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
        document["requestBody"] = {"required": op.body_required, "content": {
            "application/json": {"schema": _inlined(op.body.model_json_schema(
                mode="validation"))}}}
    return document


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """A body model with nested models (HoursIn) refers to `#/$defs/...`, which would point
    at the document's root: put each definition in place instead."""
    definitions = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if isinstance(ref := node.get("$ref"), str) and ref.startswith("#/$defs/"):
                return walk(definitions[ref.removeprefix("#/$defs/")])
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return dict(walk(schema))


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
