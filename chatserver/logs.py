"""Logging set-up. Records never carry message text, addresses, names or tokens: log ids and
counts only."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from chatserver.settings import Settings

# Libraries whose debug (or info) records carry SQL parameters, that is message text and
# addresses: they never log below WARNING, whatever log_level says.
LEAKY_LOGGERS = ("aiosqlite", "sqlalchemy", "asyncpg", "aiosmtplib")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def setup_logging(settings: Settings) -> None:
    handler = logging.StreamHandler()
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    quiet_leaky_loggers()


def quiet_leaky_loggers() -> None:
    for name in LEAKY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


class AccessLogger(AbstractAccessLogger):
    """One line per request with the method, the *route pattern*, status and duration.

    Never the path or the query string (they can hold ids and tokens), nor the client address,
    referrer or user agent: `GET /api/v1/conversations/{conversation_id} 200 0.004s`.
    """

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        route = "(unmatched)"
        match_info = getattr(request, "match_info", None)
        resource = match_info.route.resource if match_info is not None else None
        if resource is not None:
            route = resource.canonical
        self.logger.info("%s %s %s %.3fs", request.method, route, response.status, time)
