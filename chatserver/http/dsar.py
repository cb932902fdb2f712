"""Data-subject requests by email address, for admins (DESIGN.md §5.6):
`GET /api/v1/dsar?email=` finds, `POST /api/v1/dsar/export` and `POST /api/v1/dsar/erase` with
`{"email"}` export and erase. Every call is audited by the service (services/privacy/rights.py)."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import StringConstraints

from chatserver.http.common import authenticate, read_json
from chatserver.keys import CONTEXT
from chatserver.services.privacy import rights
from chatserver.validation import EMAIL_FORMAT, Line, Payload, parse


class EmailRequest(Payload):
    email: Annotated[Line, StringConstraints(min_length=3, max_length=254), EMAIL_FORMAT]


async def find(request: web.Request) -> web.Response:
    caller = await authenticate(request, admin=True)
    # The same rules as the body of export and erase (an address is never cut short).
    query = {"email": request.query["email"]} if "email" in request.query else {}
    found = await rights.find(request.app[CONTEXT], rights.Actor("agent", caller.agent.id),
                              parse(EmailRequest, query).email)
    return web.json_response({"ok": True, **found})


async def export(request: web.Request) -> web.Response:
    caller = await authenticate(request, admin=True)
    payload = await read_json(request, EmailRequest)
    data = await rights.export_by_email(request.app[CONTEXT],
                                        rights.Actor("agent", caller.agent.id), payload.email)
    return web.json_response({"ok": True, "data": data})


async def erase(request: web.Request) -> web.Response:
    caller = await authenticate(request, admin=True)
    payload = await read_json(request, EmailRequest)
    counts = await rights.erase_by_email(request.app[CONTEXT],
                                         rights.Actor("agent", caller.agent.id), payload.email)
    return web.json_response({"ok": True, "erased": counts})
