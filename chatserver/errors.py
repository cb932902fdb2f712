"""Error codes of the wire contract and the one exception services raise to report them."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from chatserver.i18n import Translator
from chatserver.i18n import gettext_noop as _


class Code(StrEnum):
    NOTICE_REQUIRED = "notice_required"
    INVALID_INPUT = "invalid_input"
    TOO_LARGE = "too_large"
    RATE_LIMITED = "rate_limited"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    CLOSED = "closed"
    UNAVAILABLE = "unavailable"


HTTP_STATUS = {
    Code.NOTICE_REQUIRED: 403,
    Code.INVALID_INPUT: 400,
    Code.TOO_LARGE: 413,
    Code.RATE_LIMITED: 429,
    Code.UNAUTHORIZED: 401,
    Code.FORBIDDEN: 403,
    Code.NOT_FOUND: 404,
    Code.CONFLICT: 409,
    Code.CLOSED: 409,
    Code.UNAVAILABLE: 503,
}

# The default text for each code, used when a service does not give a more specific one.
DEFAULT_MESSAGES = {
    Code.NOTICE_REQUIRED: _("Please read and accept the privacy notice before starting a chat."),
    Code.INVALID_INPUT: _("The request is not valid."),
    Code.TOO_LARGE: _("The request is too large."),
    Code.RATE_LIMITED: _("Too many requests. Please wait a moment and try again."),
    Code.UNAUTHORIZED: _("Please log in first."),
    Code.FORBIDDEN: _("You are not allowed to do this."),
    Code.NOT_FOUND: _("It was not found. It may have been deleted."),
    Code.CONFLICT: _("Someone else changed this first."),
    Code.CLOSED: _("This conversation has ended."),
    Code.UNAVAILABLE: _("The service is temporarily unavailable. Please try again."),
}


class Localised:
    """A message translated where it is shown, with its parameters (which may be Localised
    too); str() is the English text, for logs and the command line."""

    def __init__(self, msgid: str, **params: Any) -> None:
        self.msgid, self.params = msgid, params

    def __str__(self) -> str:
        return self.msgid.format(**{k: str(v) for k, v in self.params.items()})

    def translated(self, translator: Translator, language: str) -> str:
        return translator.gettext(language, self.msgid).format(**{
            k: v.translated(translator, language) if isinstance(v, Localised) else v
            for k, v in self.params.items()})


class ServiceError(Exception):
    """A refusal in the contract's terms: a code and an untranslated message with parameters."""

    def __init__(self, code: Code, message: str | None = None, **params: Any) -> None:
        super().__init__(code.value)
        self.code = code
        self.message = message or DEFAULT_MESSAGES[code]
        self.params = params
        # The input field the refusal is about, as a path ("entries.2.fi.answer"), for a form
        # to show the message next to it; sent as the error's "field" when set.
        self.target: str | None = None

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.code]

    def body(self, translator: Translator, language: str) -> dict[str, Any]:
        """The error object of the contract, `{"code", "message"}`, in `language`."""
        text = translator.gettext(language, self.message)
        if self.params:
            text = text.format(**{
                k: v.translated(translator, language) if isinstance(v, Localised) else v
                for k, v in self.params.items()})
        if self.target is not None:
            return {"code": self.code.value, "message": text, "field": self.target}
        return {"code": self.code.value, "message": text}

    def ack(self, translator: Translator, language: str) -> dict[str, Any]:
        return {"ok": False, "error": self.body(translator, language)}
