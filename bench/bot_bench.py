"""How long the FAQ assistant takes to match one message, for an FAQ of 200 entries.

Run: .venv/bin/python bench/bot_bench.py [--entries 200] [--rounds 20]

The FAQ is the shipped example (chatserver/faq/example_shop.toml) grown to N entries per
language: each copy of an entry gets its own id and a few words of its own, so the vocabulary and
the postings grow the way a real, larger FAQ's would. The questions are the labelled set
(chatserver/faq/example_shop_eval.tsv). Prints the index build time and the matching time per
message per language (the first time a question's words are seen, and again with the caches
warm), and for the whole decision (hand-off words first, matching, the confidence) as
`chatserver` runs it: the CPU time per message (process time over all rounds; what a match
costs) and wall-clock median and 99th percentile (these also show other load on the machine).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from pathlib import Path

from chatserver.services.assistant import bot
from chatserver.services.assistant import evaluation as bot_eval
from chatserver.services.assistant import faq as bot_faq
from chatserver.services.assistant.match import Document, Index
from chatserver.settings import LANGUAGES, load_settings

ROOT = Path(__file__).resolve().parent.parent
FAQ = ROOT / "chatserver" / "faq" / "example_shop.toml"
EVAL = ROOT / "chatserver" / "faq" / "example_shop_eval.tsv"
FILLER = {
    "fi": "tuote tarjous kampanja kevät kesä syksy talvi lapsi aikuinen koira kissa puutarha "
          "keittiö makuuhuone sohva tuoli pöytä lamppu matto verho kenkä takki hattu laukku",
    "sv": "produkt erbjudande kampanj vår sommar höst vinter barn vuxen hund katt trädgård "
          "kök sovrum soffa stol bord lampa matta gardin sko jacka hatt väska",
    "en": "product offer campaign spring summer autumn winter child adult dog cat garden "
          "kitchen bedroom sofa chair table lamp rug curtain shoe jacket hat bag",
}


def grown(entries: list[bot_faq.Entry], language: str, size: int) -> list[Document]:
    rng = random.Random(7)
    words = FILLER[language].split()
    base = [e for e in entries if language in e.languages]
    documents = []
    for number in range(size):
        entry = base[number % len(base)]
        part = entry.languages[language]
        extra = " ".join(rng.sample(words, 3)) + f" malli{number}"
        documents.append(Document(f"{entry.id}-{number}",
                                  tuple(f"{q} {extra}" for q in part.questions),
                                  (*part.keywords, extra), part.title, part.answer))
    return documents


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    entries = bot_faq.load(FAQ)
    questions = bot_eval.read(EVAL)
    print(f"FAQ of {args.entries} entries per language; {len(questions)} questions x "
          f"{args.rounds} rounds")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'':<24}{'cpu/msg':>9}{'median':>9}{'p99':>9}   (microseconds)")
    for language in LANGUAGES:
        started = time.perf_counter()
        index = Index(language, grown(entries, language, args.entries))
        built = time.perf_counter() - started
        texts = [q for _n, lang, q, _e in questions if lang == language]
        # First with every word new to the index (its analysis and look-ups not yet cached),
        # then warm, as a running server mostly is.
        _report(f"{language}: match, first time", index.match, texts, 1)
        _report(f"{language}: match, index {built * 1000:.0f} ms",
                lambda text, index=index: index.match(text), texts, args.rounds)
    settings = load_settings(environ={})
    knowledge = bot.knowledge(settings)
    for language in LANGUAGES:
        texts = [q for _n, lang, q, _e in questions if lang == language]
        _report(f"{language}: decide, shipped FAQ",
                lambda text, language=language: bot.decide(settings, language, text),
                texts, args.rounds)
    print(f"(shipped FAQ: {len(knowledge.indexes['fi'])} entries per language with the "
          "privacy questions)")


def _report(label: str, work: object, texts: list[str], rounds: int) -> None:
    assert callable(work)
    timings = []
    cpu_started = time.process_time()
    for _round in range(rounds):
        for text in texts:
            begin = time.perf_counter()
            work(text)
            timings.append((time.perf_counter() - begin) * 1e6)
    cpu = (time.process_time() - cpu_started) / len(timings) * 1e6
    print(f"{label:<24}{cpu:9.1f}{statistics.median(timings):9.1f}"
          f"{percentile(timings, 0.99):9.1f}")


if __name__ == "__main__":
    main()
