"""How sure the assistant is: from a `Match` to the probability that its best entry is right.

Two small logistic models over the same features of a match:
- **answer**: the probability that the best entry is the one that answers the question; the
  assistant answers when it is at least `bot.threshold`;
- **offer**: the probability that the right entry is among the best three; below `threshold`
  but at least `bot.choices_threshold`, the assistant offers those as choices ("Did you
  mean…?") instead of handing off at once.

The coefficients are fitted by `tools/bot_calibrate.py` on the *dev* domains of corpus/bot/
(and the shipped shop FAQ) only; the *test* domains are never used for them (docs/bot.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from chatserver.services.assistant.match import Match

FEATURES = ("coverage", "lead", "share", "unknown", "rarest_unknown", "words", "second",
            "examples")

# Fitted by tools/bot_calibrate.py (see its output for the data it was fitted on).
ANSWER_MODEL = (-5.144, (3.672, 3.695, 1.638, -2.274, 0.053, 1.823, -0.023, 0.004))
OFFER_MODEL = (-4.917, (3.831, 2.796, 0.573, -2.093, -0.328, 2.265, 1.035, 0.243))


@dataclass(frozen=True)
class Confidence:
    answer: float  # probability that the best entry is right
    offer: float  # probability that the right entry is among the best three


def features(match: Match) -> tuple[float, ...]:
    """The numbers the models read; all 0 for a question that meets no entry."""
    if not match.candidates:
        return (0.0,) * len(FEATURES)
    best = match.candidates[0]
    second = match.candidates[1] if len(match.candidates) > 1 else None
    lead = best.coverage - (second.coverage if second else 0.0)
    share = best.rank / (best.rank + (second.rank if second else 0.0)) if best.rank > 0 else 0.0
    return (best.coverage, lead, share, match.unknown, match.rarest_unknown,
            math.log(1 + match.words), second.coverage if second else 0.0,
            math.log(1 + best.examples))


def _logistic(model: tuple[float, tuple[float, ...]], values: tuple[float, ...]) -> float:
    bias, weights = model
    z = bias + sum(w * v for w, v in zip(weights, values, strict=True))
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def confidence(match: Match) -> Confidence:
    if not match.candidates:
        return Confidence(0.0, 0.0)
    values = features(match)
    return Confidence(_logistic(ANSWER_MODEL, values), _logistic(OFFER_MODEL, values))
