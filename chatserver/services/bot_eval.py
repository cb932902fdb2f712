"""Measuring the assistant on a labelled set: `chatserver bot eval FILE` (docs/bot.md).

Each line of FILE is `language <TAB> question <TAB> expected entry id` (or `none` when the
assistant should hand over); blank lines and lines starting with # are skipped. In scope, a hit
is the expected entry answered (top-1 above the threshold); out of scope, a hit is a refusal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from chatserver.services.bot import decide
from chatserver.settings import LANGUAGES, ConfigError, Settings


@dataclass
class Score:
    in_scope: int = 0
    correct: int = 0
    out_of_scope: int = 0
    refused: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.in_scope if self.in_scope else 1.0

    @property
    def refusal_rate(self) -> float:
        return self.refused / self.out_of_scope if self.out_of_scope else 1.0


def read(path: Path) -> list[tuple[int, str, str, str]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3 or parts[0] not in LANGUAGES or not parts[1].strip():
            raise ConfigError(f"{path}: line {number}: expected LANGUAGE<TAB>QUESTION<TAB>"
                              f"ENTRY_ID or none, with LANGUAGE one of {', '.join(LANGUAGES)}")
        rows.append((number, parts[0], parts[1].strip(), parts[2].strip()))
    return rows


def evaluate(settings: Settings, path: Path) -> dict[str, Score]:
    scores = {language: Score() for language in LANGUAGES}
    for number, language, question, expected in read(path):
        decision = decide(settings, language, question)
        got = decision.entry_id if decision.kind == "answer" else "none"
        score = scores[language]
        if expected == "none":
            score.out_of_scope += 1
            score.refused += got == "none"
        else:
            score.in_scope += 1
            score.correct += got == expected
        if got != expected:
            best = f"{decision.entry_id} {decision.confidence:.2f}" if decision.entry_id else "-"
            score.misses.append(f"line {number} [{language}] {question!r}: expected {expected}, "
                                f"got {got} (best: {best})")
    return {language: score for language, score in scores.items()
            if score.in_scope or score.out_of_scope}


def report(scores: dict[str, Score], threshold: float, verbose: bool = False) -> str:
    lines = [f"threshold {threshold:.2f}",
             f"{'lang':<5} {'in scope (top-1 right)':<26} {'out of scope (refused)':<26}"]
    for language, s in scores.items():
        lines.append(f"{language:<5} {s.correct:>3}/{s.in_scope:<3} {s.accuracy:>6.1%}"
                     f"{'':<12} {s.refused:>3}/{s.out_of_scope:<3} {s.refusal_rate:>6.1%}")
    if verbose:
        for s in scores.values():
            lines.extend(f"  miss: {miss}" for miss in s.misses)
    return "\n".join(lines)
