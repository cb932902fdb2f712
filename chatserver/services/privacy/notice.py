"""The privacy notice the visitor must acknowledge before a chat.

The notice is generated (notice_render.py) from the settings and the features switched on. Its
version is a hash of the rendered content in every language, so any change of a setting that
shows in the text gives a new version. Every version is published (stored with its full text
per language) at start-up, so an acknowledgement can later be shown exactly as it was seen.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import astuple, dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from chatserver.db.models import NoticeVersion
from chatserver.i18n import Translator
from chatserver.services.context import Context
from chatserver.services.privacy.notice_render import Features, features, render
from chatserver.settings import LANGUAGES, Settings


@dataclass(frozen=True)
class Rendered:
    version: str
    content: dict[str, dict[str, Any]]  # language -> {title, summary, sections}


_CACHE: OrderedDict[tuple[str, int], Rendered] = OrderedDict()


def _key(settings: Settings, feats: Features) -> str:
    return json.dumps([settings.privacy.model_dump(mode="json"), astuple(feats),
                       settings.public_url.startswith("https:"), settings.is_sqlite])


def build(settings: Settings, translator: Translator, feats: Features | None = None) -> Rendered:
    """The notice in every language and its version (pure: no database, no clock)."""
    feats = feats if feats is not None else features(settings)
    content = {language: render(settings, feats, translator, language) for language in LANGUAGES}
    encoded = json.dumps(content, sort_keys=True, ensure_ascii=False).encode()
    return Rendered(hashlib.sha256(encoded).hexdigest()[:16], content)


def rendered(ctx: Context) -> Rendered:
    """Cached per configuration: the gate asks for the version on every connection."""
    feats = features(ctx.settings)
    key = (_key(ctx.settings, feats), id(ctx.translator))
    found = _CACHE.get(key)
    if found is None:
        found = _CACHE[key] = build(ctx.settings, ctx.translator, feats)
        while len(_CACHE) > 32:
            _CACHE.popitem(last=False)
    return found


def current_version(ctx: Context) -> str:
    return rendered(ctx).version


def url(ctx: Context, language: str) -> str:
    return f"{ctx.settings.public_url}/privacy?lang={language}"


def summary(ctx: Context, language: str) -> dict[str, Any]:
    """The short layered notice shown in the widget before the chat."""
    notice = rendered(ctx)
    content = notice.content[language]
    return {"version": notice.version, "title": content["title"],
            "summary": content["summary"], "url": url(ctx, language)}


def full(ctx: Context, language: str) -> dict[str, Any]:
    notice = rendered(ctx)
    return {"version": notice.version, "language": language, **notice.content[language],
            "url": url(ctx, language)}


async def publish(ctx: Context) -> str:
    """Store the current version's full text in every language unless it is already stored.
    Safe to run on several nodes at once."""
    notice = rendered(ctx)
    for language in LANGUAGES:
        async with ctx.db() as session:
            exists = (await session.exec(
                select(NoticeVersion.id).where(NoticeVersion.version == notice.version)
                .where(NoticeVersion.language == language))).first()
        if exists is not None:
            continue
        try:
            async with ctx.db.begin() as session:
                session.add(NoticeVersion(
                    version=notice.version, language=language, published_at=ctx.clock(),
                    content=json.dumps(notice.content[language], ensure_ascii=False)))
        except IntegrityError:
            pass  # another node published it first
    return notice.version


async def published(ctx: Context, version: str, language: str) -> dict[str, Any] | None:
    """A stored version exactly as it was published, or None."""
    async with ctx.db() as session:
        row = (await session.exec(
            select(NoticeVersion).where(NoticeVersion.version == version)
            .where(NoticeVersion.language == language))).first()
    if row is None:
        return None
    return {"version": row.version, "language": row.language, **json.loads(row.content),
            "published_at": row.published_at}


async def published_at(ctx: Context, version: str) -> datetime | None:
    async with ctx.db() as session:
        return (await session.exec(
            select(NoticeVersion.published_at).where(NoticeVersion.version == version)
            .order_by(NoticeVersion.published_at))).first()  # type: ignore[arg-type]


def metadata(ctx: Context, user_agent: str | None, page_url: str | None) -> dict[str, str | None]:
    """The optional metadata to store with a new conversation: only what the operator switched
    on (and the notice therefore states). The page address loses its query and fragment, which
    can carry personal data."""
    privacy = ctx.settings.privacy
    stored: dict[str, str | None] = {"user_agent": None, "page_url": None}
    if privacy.collect_user_agent and user_agent:
        stored["user_agent"] = user_agent.strip()[:500] or None
    if privacy.collect_page_url and page_url:
        parts = urlsplit(page_url.strip())
        if parts.scheme in ("http", "https") and parts.netloc:
            stored["page_url"] = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))[
                :2000]
    return stored


def feature_flags(ctx: Context) -> dict[str, bool]:
    """The optional features in use, as the notice describes them (for the widget's config)."""
    feats = features(ctx.settings)
    return {"transcript": feats.transcript, "offline_form": feats.offline_form, "bot": feats.bot,
            "rating": feats.rating}
