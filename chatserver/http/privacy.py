"""The full privacy notice: `/privacy?lang=` as a printable, accessible HTML page and
`/api/v1/privacy-notice?lang=` (optionally `&version=` for a published one) as JSON."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from babel.dates import format_date

from chatserver.errors import Code, ServiceError
from chatserver.http.common import request_language
from chatserver.i18n import gettext_noop as _
from chatserver.keys import CONTEXT
from chatserver.services.privacy import notice
from chatserver.services.views import iso
from chatserver.settings import LANGUAGES
from chatserver.validation import query_text

LANGUAGE_NAMES = {"fi": "Suomeksi", "sv": "På svenska", "en": "In English"}
CSS = (
    "body{font:1rem/1.55 system-ui,sans-serif;color:#1a1a1a;background:#fff;margin:0}"
    "header,main,footer,nav{max-width:44rem;margin:0 auto;padding:0 1rem}"
    "h1{font-size:1.8rem;margin:1.5rem 0 .5rem}h2{font-size:1.2rem;margin:1.8rem 0 .4rem}"
    "a{color:#0b57a4}a:focus{outline:3px solid #0b57a4;outline-offset:2px}"
    ".summary{font-size:1.05rem;border-left:4px solid #0b57a4;padding-left:.8rem}"
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}"
    "dd{margin:0}.meta{color:#444;font-size:.9rem;margin:2rem auto}"
    "nav ul{display:flex;flex-wrap:wrap;gap:.2rem 1rem;list-style:none;padding:0}"
    "@media print{nav{display:none}a{color:inherit}body{font-size:11pt}"
    "h2{break-after:avoid}section{break-inside:avoid}}"
)
CSP = ("default-src 'none'; style-src 'sha256-"
       + base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
       + "'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


def _language_links(language: str) -> str:
    links = []
    for other in LANGUAGES:
        name = escape(LANGUAGE_NAMES[other])
        if other == language:
            links.append(f'<li><a aria-current="page" lang="{other}" href="?lang={other}">'
                         f"{name}</a></li>")
        else:
            links.append(f'<li><a lang="{other}" hreflang="{other}" href="?lang={other}">'
                         f"{name}</a></li>")
    return "".join(links)


def _section_html(section: dict[str, Any]) -> str:
    parts = [f'<section aria-labelledby="s-{section["id"]}">'
             f'<h2 id="s-{section["id"]}">{escape(section["title"])}</h2>']
    if section["fields"]:
        parts.append("<dl>" + "".join(
            f"<dt>{escape(f['label'])}</dt><dd>{escape(f['value'])}</dd>"
            for f in section["fields"]) + "</dl>")
    parts += [f"<p>{escape(p)}</p>" for p in section["paragraphs"]]
    if section["items"]:
        parts.append("<ul>" + "".join(f"<li>{escape(i)}</li>" for i in section["items"])
                     + "</ul>")
    parts.append("</section>")
    return "".join(parts)


def page_html(content: dict[str, Any], language: str, t: Any,
              published: str | None) -> str:
    """The notice as a complete HTML document. `t(msgid, **params)` translates."""
    toc = "".join(f'<li><a href="#s-{s["id"]}">{escape(s["title"])}</a></li>'
                  for s in content["sections"])
    generated = t(_("This notice is generated from the configuration the chat server runs with."))
    meta = escape(t(_("Version {version}"), version=content["version"]))
    if published:
        meta += " · " + escape(t(_("Published {date}"), date=published))
    return (
        f'<!doctype html><html lang="{language}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(content['title'])}</title><style>{CSS}</style></head><body>"
        f'<nav aria-label="{escape(t(_("Language")))}"><ul>{_language_links(language)}</ul></nav>'
        f"<header><h1>{escape(content['title'])}</h1>"
        f'<p class="summary">{escape(content["summary"])}</p></header>'
        f'<nav aria-label="{escape(t(_("Contents")))}"><ul>{toc}</ul></nav>'
        f"<main>{''.join(_section_html(s) for s in content['sections'])}</main>"
        f'<footer><p class="meta">{meta}. {escape(generated)}</p></footer></body></html>'
    )


async def notice_page(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    language = request_language(request)
    content = notice.full(ctx, language)
    moment = await notice.published_at(ctx, content["version"])
    published = None
    if moment is not None:
        published = format_date(moment.astimezone(ZoneInfo(ctx.settings.time_zone)),
                                format="long", locale=language)

    def t(msgid: str, **params: Any) -> str:
        text = ctx.translator.gettext(language, msgid)
        return text.format(**params) if params else text

    response = web.Response(text=page_html(content, language, t, published),
                            content_type="text/html")
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Content-Language"] = language
    return response


async def notice_json(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    language = request_language(request)
    version = query_text(request.query.get("version"), "version", 64)
    if version and version != notice.current_version(ctx):
        stored = await notice.published(ctx, version, language)
        if stored is None:
            raise ServiceError(Code.NOT_FOUND, _("No privacy notice has that version."))
        stored["published_at"] = iso(stored["published_at"])
        return web.json_response({"ok": True, "current": False, **stored})
    content = notice.full(ctx, language)
    moment: datetime | None = await notice.published_at(ctx, content["version"])
    return web.json_response({"ok": True, "current": True, **content,
                              "published_at": iso(moment)})
