"""Canned responses: short texts per language, shared by every agent, inserted in the console
by typing `/shortcut` and Tab. Admins add, change and remove them; agents read them."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from chatserver.db.models import Agent, CannedResponse
from chatserver.errors import Code, ServiceError
from chatserver.i18n import gettext_noop as _
from chatserver.services import audit
from chatserver.services.context import Context
from chatserver.services.views import iso
from chatserver.settings import LANGUAGES

# What a client may send: any case, an optional leading slash, spaces around (the console's
# `/Hello ` becomes `hello`); published as the pattern in the OpenAPI document.
SHORTCUT_INPUT = r"^[ \t]*/?[A-Za-z0-9][A-Za-z0-9_-]{0,39}[ \t]*$"
MAX_TEXT = 4000


def canned_view(row: CannedResponse) -> dict[str, Any]:
    return {"id": row.id, "language": row.language, "shortcut": row.shortcut, "text": row.text,
            "created_at": iso(row.created_at)}


def _check(language: str, shortcut: str, text: str) -> tuple[str, str, str]:
    if language not in LANGUAGES:
        raise ServiceError(Code.INVALID_INPUT, _("Unknown language “{language}”."),
                           language=language[:10])
    if not re.fullmatch(SHORTCUT_INPUT, shortcut):
        raise ServiceError(Code.INVALID_INPUT,
                           _("A shortcut is 1 to 40 lowercase letters, digits, - or _."))
    shortcut = shortcut.strip(" \t").removeprefix("/").lower()
    text = text.strip()
    if not text:
        raise ServiceError(Code.INVALID_INPUT, _("The text of a canned response is empty."))
    if len(text) > MAX_TEXT:
        raise ServiceError(Code.TOO_LARGE, _("The text is too long (at most {limit} characters)."),
                           limit=MAX_TEXT)
    return language, shortcut, text


def _taken(shortcut: str, language: str) -> ServiceError:
    return ServiceError(Code.CONFLICT,
                        _("The shortcut “/{shortcut}” is already in use in this language."),
                        shortcut=shortcut, language=language)


async def list_responses(ctx: Context, language: str | None = None) -> list[dict[str, Any]]:
    query = select(CannedResponse).order_by(col(CannedResponse.language),
                                            col(CannedResponse.shortcut))
    if language is not None:
        query = query.where(CannedResponse.language == language)
    async with ctx.db() as session:
        rows = (await session.exec(query)).all()
    return [canned_view(r) for r in rows]


async def create(ctx: Context, actor: Agent, language: str, shortcut: str,
                 text: str) -> dict[str, Any]:
    language, shortcut, text = _check(language, shortcut, text)
    try:
        async with ctx.db.begin() as session:
            row = CannedResponse(language=language, shortcut=shortcut, text=text,
                                 created_at=ctx.clock())
            session.add(row)
            await session.flush()
            audit.record(ctx, session, "canned.create", actor_kind="agent", actor_id=actor.id,
                         target_kind="canned", target_id=row.id)
    except IntegrityError:
        raise _taken(shortcut, language) from None
    return canned_view(row)


async def update(ctx: Context, actor: Agent, canned_id: int, language: str, shortcut: str,
                 text: str) -> dict[str, Any]:
    language, shortcut, text = _check(language, shortcut, text)
    try:
        async with ctx.db.begin() as session:
            row = await session.get(CannedResponse, canned_id)
            if row is None:
                raise ServiceError(Code.NOT_FOUND, _("No such canned response."))
            row.language, row.shortcut, row.text = language, shortcut, text
            session.add(row)
            await session.flush()
            audit.record(ctx, session, "canned.update", actor_kind="agent", actor_id=actor.id,
                         target_kind="canned", target_id=canned_id)
    except IntegrityError:
        raise _taken(shortcut, language) from None
    return canned_view(row)


async def delete(ctx: Context, actor: Agent, canned_id: int) -> None:
    async with ctx.db.begin() as session:
        row = await session.get(CannedResponse, canned_id)
        if row is None:
            raise ServiceError(Code.NOT_FOUND, _("No such canned response."))
        await session.delete(row)
        audit.record(ctx, session, "canned.delete", actor_kind="agent", actor_id=actor.id,
                     target_kind="canned", target_id=canned_id)
