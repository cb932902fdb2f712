"""The `[rating]` and `[reports]` settings sections (issue 22): the satisfaction rating the
widget asks for when a chat ends, and the worker that counts closed conversations into the
anonymous report counters (chatserver/services/reports.py). How long the counters are kept is
`privacy.retention.reports`."""

from __future__ import annotations

from pydantic import Field

from chatserver.settings.section import Section


class RatingSettings(Section):
    enabled: bool = Field(False, description="Ask the visitor \"How did we do?\" (a score of "
                          "1 to 5 and an optional comment) when a chat ends; the privacy notice "
                          "mentions the rating only while this is on.")


class ReportsSettings(Section):
    interval_seconds: float = Field(
        30.0, gt=0, le=3600,
        description="How often each node counts newly closed conversations into the anonymous "
        "report counters. A conversation is counted once, in the transaction that marks it "
        "counted, so a crash neither loses nor doubles it.")
    batch_size: int = Field(500, ge=1, le=10_000,
                            description="Conversations counted per transaction.")
