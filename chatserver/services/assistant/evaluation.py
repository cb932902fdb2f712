"""Measuring the assistant on labelled questions: `chatserver bot eval PATH` (docs/bot.md).

PATH is a file of lines `language <TAB> question <TAB> expected entry id` (or `none` when the
assistant should not answer), measured against the configured FAQ; or a folder of domains, each
a sub-folder with its own `faq.toml` and `questions.tsv` (corpus/bot/dev, corpus/bot/test).
Blank lines and lines starting with # are skipped.

In scope, the assistant answers directly with the right entry (*right*), directly with another
entry (*wrong*), offers the right one among its choices (*offered*) or hands off. Out of scope,
any direct answer is a miss; choices and hand-offs are refusals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from chatserver.services.assistant.bot import decide
from chatserver.settings import LANGUAGES, ConfigError, Settings

QUESTIONS, FAQ = "questions.tsv", "faq.toml"


@dataclass
class Score:
    in_scope: int = 0
    correct: int = 0
    wrong: int = 0
    offered: int = 0  # the right entry among the choices, not answered directly
    out_of_scope: int = 0
    refused: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.in_scope if self.in_scope else 1.0

    @property
    def wrong_rate(self) -> float:
        return self.wrong / self.in_scope if self.in_scope else 0.0

    @property
    def reach(self) -> float:
        """Share of in-scope questions answered right or offered the right choice."""
        return (self.correct + self.offered) / self.in_scope if self.in_scope else 1.0

    @property
    def refusal_rate(self) -> float:
        return self.refused / self.out_of_scope if self.out_of_scope else 1.0

    def add(self, other: Score) -> None:
        for name in ("in_scope", "correct", "wrong", "offered", "out_of_scope", "refused"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.misses.extend(other.misses)


Scores = dict[str, Score]  # language → score


def read(path: Path) -> list[tuple[int, str, str, str]]:
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3 or parts[0] not in LANGUAGES or not parts[1].strip():
            raise ConfigError(f"{path}: line {number}: expected LANGUAGE<TAB>QUESTION<TAB>"
                              f"ENTRY_ID or none, with LANGUAGE one of {', '.join(LANGUAGES)}")
        rows.append((number, parts[0], parts[1].strip(), parts[2].strip()))
    return rows


def evaluate(settings: Settings, path: Path) -> Scores:
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
            score.wrong += got not in ("none", expected)
            score.offered += decision.kind == "choices" and expected in decision.choices
        if got != expected:
            best = f"{decision.entry_id} {decision.confidence:.2f}" if decision.entry_id else "-"
            how = f"choices {', '.join(decision.choices)}" if decision.choices else got
            score.misses.append(f"{path.name}:{number} [{language}] {question!r}: expected "
                                f"{expected}, got {how} (best: {best})")
    return {language: score for language, score in scores.items()
            if score.in_scope or score.out_of_scope}


def domains(folder: Path) -> list[Path]:
    """The sub-folders of `folder` that hold a domain (faq.toml and questions.tsv)."""
    found = sorted(d for d in folder.iterdir() if (d / QUESTIONS).is_file())
    if not found:
        raise ConfigError(f"{folder}: no domain in it; expected sub-folders with {FAQ} and "
                          f"{QUESTIONS}")
    for domain in found:
        if not (domain / FAQ).is_file():
            raise ConfigError(f"{domain}: {QUESTIONS} without {FAQ}")
    return found


def evaluate_folder(settings: Settings, folder: Path) -> dict[str, Scores]:
    """Scores per domain (each against its own faq.toml) and, under "all", their sum."""
    results: dict[str, Scores] = {}
    total: Scores = {}
    for domain in domains(folder):
        own = settings.model_copy(update={"bot": settings.bot.model_copy(
            update={"faq_file": str(domain / FAQ)})})
        results[domain.name] = scores = evaluate(own, domain / QUESTIONS)
        for language, score in scores.items():
            total.setdefault(language, Score()).add(score)
    results["all"] = total
    return results


def report(scores: Scores, settings: Settings, verbose: bool = False,
           title: str | None = None) -> str:
    lines = [title] if title else [f"threshold {settings.bot.threshold:.2f}, choices "
                                   f"{settings.bot.choices_threshold:.2f}"]
    lines.append(f"{'lang':<5} {'in scope (top-1 right)':<26} {'out of scope (refused)':<26}"
                 f"{'wrong':<16} right or offered")
    for language, s in scores.items():
        lines.append(f"{language:<5} {s.correct:>3}/{s.in_scope:<3} {s.accuracy:>6.1%}"
                     f"{'':<12} {s.refused:>3}/{s.out_of_scope:<3} {s.refusal_rate:>6.1%}"
                     f"{'':<12} {s.wrong:>3} {s.wrong_rate:>6.1%}"
                     f"{'':<6} {s.correct + s.offered:>3} {s.reach:>6.1%}")
    if verbose:
        for s in scores.values():
            lines.extend(f"  miss: {miss}" for miss in s.misses)
    return "\n".join(lines)


def report_folder(results: dict[str, Scores], settings: Settings, verbose: bool = False) -> str:
    blocks = [f"threshold {settings.bot.threshold:.2f}, choices "
              f"{settings.bot.choices_threshold:.2f}"]
    for name, scores in results.items():
        blocks.append(report(scores, settings, verbose and name != "all",
                             title=f"\n{'all domains' if name == 'all' else 'domain ' + name}"))
    return "\n".join(blocks)
