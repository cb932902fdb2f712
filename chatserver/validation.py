"""Turns untrusted payloads into typed objects, or into an `invalid_input` / `too_large` error
that names the field, shared by socket events and REST bodies."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError
from pydantic.functional_validators import AfterValidator

from chatserver.errors import Code, ServiceError
from chatserver.i18n import gettext_noop as _

M = TypeVar("M", bound="Payload")


class Payload(BaseModel):
    """Strict: no unknown fields, no type coercion (a number is not a string)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _clean_text(value: str) -> str:
    """Reject what storage or display cannot hold: NUL, lone surrogates, other C0 controls."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("unencodable") from None
    if any(ord(ch) < 32 and ch not in "\n\r\t" for ch in value):
        raise ValueError("control")
    return value


def _single_line(value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError("control")
    return value


CleanText = Annotated[str, AfterValidator(_clean_text)]
ClientId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-:.]+$"),
    AfterValidator(_clean_text),
]
Line = Annotated[str, AfterValidator(_clean_text), AfterValidator(_single_line)]


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
    if kind == "string_too_long":
        limit = error.get("ctx", {}).get("max_length")
        return ServiceError(
            Code.TOO_LARGE, _("The field “{field}” is too long (at most {limit})."),
            field=field, limit=limit,
        )
    if kind == "string_too_short":
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
