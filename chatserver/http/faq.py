"""Admin REST of the FAQ editor and the review list (docs/bot.md, "The FAQ editor"; the rules
are in services/assistant/faq_store.py)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import Field, StringConstraints

from chatserver.errors import Code, ServiceError
from chatserver.http.common import authenticate, read_json
from chatserver.i18n import gettext_noop as _
from chatserver.keys import CONTEXT
from chatserver.services.assistant import faq_learning, faq_store
from chatserver.validation import Line, M, Payload, parse, record_id

# An FAQ of a few hundred entries with three languages is larger than the other bodies of the
# API (`limits.max_body_bytes`), so the bodies that carry a whole FAQ (save, try, evaluate;
# admins only) have a limit of their own.
MAX_FAQ_BYTES = 4_000_000
Entries = Annotated[list[dict[str, Any]], Field(max_length=1000)]
LabelledList = Annotated[list[dict[str, Any]], Field(max_length=faq_store.MAX_LABELLED)]
Question = Annotated[Line, StringConstraints(min_length=1, max_length=faq_store.MAX_QUESTION)]


class FaqSave(Payload):
    entries: Entries
    labelled: LabelledList = []
    confirm: bool = False  # save even when the labelled questions score lower
    base_version: int | None = None  # the version the draft started from


class FaqTry(Payload):
    entries: Entries
    language: Literal["fi", "sv", "en"]
    question: Question


class FaqEvaluate(Payload):
    entries: Entries
    labelled: LabelledList


class ReviewAction(Payload):
    action: Literal["dismiss", "example", "labelled"]
    entry_id: Annotated[Line, StringConstraints(max_length=64)] | None = None
    text: Question | None = None
    confirm: bool = False


async def read_large_json(request: web.Request, model: type[M]) -> M:
    if request.content_type != "application/json":
        raise ServiceError(Code.INVALID_INPUT, _("Send the body as application/json."))
    if request.content_length is not None and request.content_length > MAX_FAQ_BYTES:
        raise ServiceError(Code.TOO_LARGE)
    raw = bytearray()
    while chunk := await request.content.read(65536):
        raw.extend(chunk)
        if len(raw) > MAX_FAQ_BYTES:
            raise ServiceError(Code.TOO_LARGE)
    try:
        data: Any = json.loads(raw.decode("utf-8")) if raw else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ServiceError(Code.INVALID_INPUT, _("The body is not valid JSON.")) from None
    return parse(model, data)


async def get_faq(request: web.Request) -> web.Response:
    caller = await authenticate(request, admin=True)
    ctx = request.app[CONTEXT]
    found = await faq_store.state(ctx)
    reason = (ctx.translator.gettext(caller.agent.language, faq_store.FROM_FILE)
              if found["read_only"] else None)
    return web.json_response({"ok": True, **found, "read_only_reason": reason})


async def save_faq(request: web.Request) -> web.Response:
    caller = await authenticate(request, admin=True)
    body = await read_large_json(request, FaqSave)
    saved = await faq_store.save(request.app[CONTEXT], caller.agent, body.entries,
                                 body.labelled, confirm=body.confirm,
                                 base_version=body.base_version)
    return web.json_response({"ok": True, **saved})


async def try_faq(request: web.Request) -> web.Response:
    await authenticate(request, admin=True)
    body = await read_large_json(request, FaqTry)
    found = faq_store.try_question(request.app[CONTEXT], body.entries, body.language,
                                   body.question)
    return web.json_response({"ok": True, **found})


async def evaluate_faq(request: web.Request) -> web.Response:
    await authenticate(request, admin=True)
    body = await read_large_json(request, FaqEvaluate)
    return web.json_response({"ok": True, **faq_store.compare(request.app[CONTEXT],
                                                              body.entries, body.labelled)})


async def review_list(request: web.Request) -> web.Response:
    caller = await authenticate(request, admin=True)
    groups = await faq_learning.review(request.app[CONTEXT], caller.agent)
    return web.json_response({"ok": True, "groups": groups})


async def review_act(request: web.Request) -> web.Response:
    caller = await authenticate(request, admin=True)
    body = await read_json(request, ReviewAction)
    message_id = record_id(request.match_info["message_id"])
    done = await faq_learning.review_act(request.app[CONTEXT], caller.agent, message_id,
                                      body.action, entry_id=body.entry_id, text=body.text,
                                      confirm=body.confirm)
    return web.json_response({"ok": True, **done})
