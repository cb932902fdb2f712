"""The `[chat]` settings section: conversations themselves (the chat core, docs/protocol.md)."""

from __future__ import annotations

from pydantic import Field

from chatserver.settings.section import Section


class ChatSettings(Section):
    idle_close_minutes: float = Field(
        60.0, ge=0, description="Close an open conversation after this many minutes without a "
        "message, a hand-off or a claim (and send its transcript if the visitor asked for one); "
        "0 never closes. Replaces smtp.transcript_idle_minutes.")
    idle_check_seconds: float = Field(
        30.0, gt=0, le=3600, description="How often each node looks for idle conversations.")
