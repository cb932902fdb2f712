"""`GET /api/v1/reports`: the anonymous report figures for the console's reports page
(issue 22). Admins see everyone's; an agent sees their own (services/report_figures.py)."""

from __future__ import annotations

import re
from datetime import date
from zoneinfo import ZoneInfo

from aiohttp import web

from chatserver.errors import Code, ServiceError
from chatserver.http.common import authenticate
from chatserver.i18n import gettext_noop as _
from chatserver.keys import CONTEXT
from chatserver.services import report_figures, reports
from chatserver.settings import LANGUAGES

DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
DEFAULT_DAYS = 30


def _day(raw: str | None, name: str, default: date) -> date:
    if not raw:
        return default
    try:
        if DAY.fullmatch(raw) is None:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise ServiceError(Code.INVALID_INPUT, _("“{field}” must be a date such as 2026-11-22."),
                           field=name) from None


async def get_reports(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    ctx = request.app[CONTEXT]
    today = ctx.clock().astimezone(ZoneInfo(ctx.settings.time_zone)).date()
    end = _day(request.query.get("to"), "to", today)
    start = _day(request.query.get("from"), "from",
                 date.fromordinal(max(1, end.toordinal() - DEFAULT_DAYS + 1)))
    # Every well-formed range is answered: reversed, it is read the right way round; longer
    # than the counters can be kept, it is cut to its last reports.MAX_DAYS days.
    start, end = min(start, end), max(start, end)
    start = max(start, date.fromordinal(max(1, end.toordinal() - reports.MAX_DAYS)))
    language = request.query.get("language") or None
    if language is not None and language not in LANGUAGES:
        raise ServiceError(Code.INVALID_INPUT, _("“{field}” must be one of: {choices}."),
                           field="language", choices=", ".join(LANGUAGES))
    figures = await report_figures.report(ctx, caller.agent,
                                          report_figures.Query(start, end, language))
    return web.json_response({"ok": True, "report": figures})
