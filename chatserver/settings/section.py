"""The base class of every settings section: unknown keys are refused (a typo in the file
stops start-up with its name) and defaults are validated like given values."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)
