"""The `[bot]` settings section: the built-in FAQ assistant (docs/bot.md).

`Settings.bot` (chatserver/settings/__init__.py) is this.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from chatserver.package_data import data_path
from chatserver.settings.section import Section

# The example FAQ of a small web shop, shipped with chatserver.
EXAMPLE_FAQ = data_path("faq", "example_shop.toml")


class BotSettings(Section):

    enabled: bool = Field(
        True, description="Start every new conversation with the automatic FAQ assistant; it "
        "answers what it can from faq_file and hands the visitor to a person otherwise. "
        "false queues new conversations for an agent at once.")
    faq_file: str = Field(
        "", description="The operator's FAQ (TOML, see docs/bot.md). When set, the file is "
        "the source and the console's FAQ editor shows it read-only. Empty uses the FAQ saved "
        "in the console's editor, or, until one is saved, the example FAQ of a small web shop "
        "shipped with chatserver (chatserver/faq/example_shop.toml). A malformed file stops "
        "start-up with an error naming the entry and the line.")
    threshold: float = Field(
        0.7, ge=0.0, le=1.0, description="Least confidence (0..1, the probability that the "
        "best entry is right) for the assistant to answer; below it the assistant offers "
        "choices or hands the visitor to a person. Higher answers less often and wrongly "
        "less often; check a change with `chatserver bot eval`.")
    choices_threshold: float = Field(
        0.2, ge=0.0, le=1.0, description="Below `threshold` but at least this confident that "
        "the right entry is among the best three, the assistant offers those as choices "
        "(\"Did you mean…?\") with \"talk to a person\" instead of handing off at once. 1 "
        "turns the choices off.")
    greeting: bool = Field(
        True, description="Greet the visitor (in their language) when a conversation starts, "
        "saying that an automatic assistant answers and how to reach a person.")
    privacy_answers: bool = Field(
        True, description="Answer questions about the visitor's data (what is stored, for how "
        "long, where, who can read it, how to delete it) from the live privacy notice.")
    reload_seconds: float = Field(
        1.0, ge=0.1, le=60.0, description="How often each node checks (one small query) "
        "whether an admin saved a new version of the FAQ in the console; a save reaches every "
        "node within this time.")

    @property
    def faq_path(self) -> Path:
        return Path(self.faq_file) if self.faq_file else EXAMPLE_FAQ
