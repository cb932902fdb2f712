"""Turns untrusted payloads into typed objects, or into an `invalid_input` / `too_large` error
that names the field, shared by socket events and REST bodies."""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from pydantic.functional_validators import AfterValidator

from chatserver.errors import Code, ServiceError
from chatserver.i18n import gettext_noop as _

M = TypeVar("M", bound="Payload")


class Payload(BaseModel):
    """Strict: no unknown fields, no type coercion (a number is not a string)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _encodable(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("unencodable") from None
    return value


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _clean_text(value: str) -> str:
    """Reject what storage or display cannot hold: NUL, lone surrogates, other C0 controls."""
    _encodable(value)
    if _CONTROL.search(value):  # (a character loop in Python cost ~1 % of a message's CPU)
        raise ValueError("control")
    return value


def _single_line(value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError("control")
    return value


# The same rules as JSON Schema patterns, for the OpenAPI document (clients and fuzzers read
# them there); the validators above are what enforces them.
_CONTROLS = r"\x00-\x08\x0b\x0c\x0e-\x1f"


def _pattern(extra: str = "", *, not_blank: bool = False) -> Any:
    allowed = f"[^{_CONTROLS}{extra}]"
    if not_blank:  # at least one character that str.strip() keeps
        return Field(json_schema_extra={"pattern": rf"^{allowed}*[^\s{_CONTROLS}]{allowed}*$"})
    return Field(json_schema_extra={"pattern": f"^{allowed}*$"})


CleanText = Annotated[str, AfterValidator(_clean_text), _pattern()]
# An address the services check with email-validator; declared as such in the OpenAPI document.
EMAIL_FORMAT = Field(json_schema_extra={"format": "email"})
# Text that the service strips and refuses when nothing is left (a reply, a canned response).
Words = Annotated[str, AfterValidator(_clean_text), _pattern(not_blank=True)]
# Any string that can be stored and hashed (passwords): no lone surrogates, nothing else.
Secret = Annotated[str, AfterValidator(_encodable)]
ClientId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-:.]+$"),
    AfterValidator(_clean_text),
]
Line = Annotated[str, AfterValidator(_clean_text), AfterValidator(_single_line),
                 _pattern(r"\n\r")]
NameLine = Annotated[str, AfterValidator(_clean_text), AfterValidator(_single_line),
                     _pattern(r"\n\r", not_blank=True)]


RECORD_ID = re.compile(r"[0-9a-f]{32}")


def record_id(value: str) -> str:
    """A conversation's or an offline message's id from a URL; anything else cannot exist (and
    never reaches the database: PostgreSQL refuses a NUL in a string)."""
    if not RECORD_ID.fullmatch(value):
        raise ServiceError(Code.NOT_FOUND)
    return value


def query_text(value: str | None, field: str, limit: int) -> str | None:
    """A free-text query parameter (a search): the first `limit` characters, None when empty;
    the same characters as a text field are refused."""
    if not value:
        return None
    try:
        _clean_text(value)
    except ValueError:
        raise ServiceError(
            Code.INVALID_INPUT,
            _("The field “{field}” contains characters that are not allowed."), field=field,
        ) from None
    return value[:limit]


def parse(model: type[M], data: Any) -> M:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ServiceError(Code.INVALID_INPUT, _("The request must be a JSON object."))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _to_service_error(exc) from None


def _to_service_error(exc: ValidationError) -> ServiceError:
    error = exc.errors()[0]
    field = ".".join(str(p) for p in error["loc"]) or "?"
    kind = error["type"]
    if kind == "missing":
        return ServiceError(Code.INVALID_INPUT, _("The field “{field}” is missing."), field=field)
    if kind == "extra_forbidden":
        return ServiceError(Code.INVALID_INPUT, _("Unknown field “{field}”."), field=field)
    # "too_long"/"too_short": the same limits on a type with a validator of its own (Line...).
    if kind in ("string_too_long", "too_long"):
        limit = error.get("ctx", {}).get("max_length")
        return ServiceError(
            Code.TOO_LARGE, _("The field “{field}” is too long (at most {limit})."),
            field=field, limit=limit,
        )
    if kind in ("string_too_short", "too_short"):
        least = error.get("ctx", {}).get("min_length", 1)
        if least > 1:
            return ServiceError(
                Code.INVALID_INPUT,
                _("The field “{field}” is too short (at least {limit} characters)."),
                field=field, limit=least,
            )
        return ServiceError(Code.INVALID_INPUT, _("The field “{field}” is empty."), field=field)
    if kind in ("value_error", "string_pattern_mismatch"):
        return ServiceError(
            Code.INVALID_INPUT,
            _("The field “{field}” contains characters that are not allowed."),
            field=field,
        )
    return ServiceError(
        Code.INVALID_INPUT, _("The field “{field}” has the wrong type or value."), field=field
    )


def message_text(text: str, max_chars: int) -> str:
    """A chat message: trimmed, 1..max_chars characters."""
    trimmed = text.strip()
    if not trimmed:
        raise ServiceError(Code.INVALID_INPUT, _("The message is empty."))
    if len(trimmed) > max_chars:
        raise ServiceError(
            Code.TOO_LARGE, _("The message is too long (at most {limit} characters)."),
            limit=max_chars,
        )
    return trimmed
