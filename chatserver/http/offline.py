"""REST for the offline inbox (agents) and the email outbox (admins), under /api/v1."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import StringConstraints

from chatserver.errors import Code, ServiceError
from chatserver.http.common import authenticate, read_json
from chatserver.i18n import gettext_noop as _
from chatserver.keys import CONTEXT
from chatserver.services.email import offline, outbox
from chatserver.validation import Payload, Words, record_id


class ReplyIn(Payload):
    text: Annotated[Words, StringConstraints(max_length=offline.MAX_REPLY_CHARS)]


class HandledIn(Payload):
    handled: bool = True


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", "50")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 500:
        raise ServiceError(Code.INVALID_INPUT,
                           _("“{field}” must be a whole number from {low} to {high}."),
                           field="limit", low=1, high=500)
    return int(raw)


def _handled_filter(request: web.Request) -> bool | None:
    raw = request.query.get("handled")
    if raw is None or raw == "":
        return None
    if raw not in ("true", "false"):
        raise ServiceError(Code.INVALID_INPUT, _("“{field}” must be true or false."),
                           field="handled")
    return raw == "true"


async def list_offline_messages(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    items = await offline.list_messages(request.app[CONTEXT], caller.agent,
                                        handled=_handled_filter(request), limit=_limit(request))
    return web.json_response({"ok": True, "offline_messages": items})


async def mark_offline_message_handled(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    body = await read_json(request, HandledIn) if request.can_read_body else HandledIn()
    await offline.mark_handled(request.app[CONTEXT], caller.agent,
                               record_id(request.match_info["message_id"]), body.handled)
    return web.json_response({"ok": True})


async def reply_to_offline_message(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    body = await read_json(request, ReplyIn)
    email = await offline.reply(request.app[CONTEXT], caller.agent,
                                record_id(request.match_info["message_id"]), body.text)
    return web.json_response({"ok": True, "email": email}, status=202)



async def list_outbox(request: web.Request) -> web.Response:
    await authenticate(request, admin=True)
    status = request.query.get("status") or None
    if status not in (None, "pending", "sent", "failed"):
        raise ServiceError(Code.INVALID_INPUT, _("“{field}” must be one of: {choices}."),
                           field="status", choices="pending, sent, failed")
    items = await outbox.list_emails(request.app[CONTEXT], status, _limit(request))
    return web.json_response({"ok": True, "emails": items})
