"""How long the FAQ editor takes to run a labelled set of 1,000 questions on an FAQ of 200
entries (issue 23: under 2 s), as `POST /api/v1/faq/evaluate` and every save do.

Run: .venv/bin/python bench/faq_labelled_bench.py [--entries 200] [--questions 1000]

The FAQ is the shipped example grown to N entries in each of fi, sv and en (each copy with an id
and a few words of its own, as bench/bot_bench.py grows it); the questions are the shipped
labelled set (chatserver/faq/example_shop_eval.tsv) repeated to the count, each pointing at a
copy of its entry. Prints the time to index the draft, to run the questions on it, the whole
comparison from cold (live and draft; the live FAQ is as large), and the comparison after the
next edit (the live version's score is kept), on one core, wall-clock.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from chatserver.services.assistant import bot, faq_store
from chatserver.services.assistant import evaluation as bot_eval
from chatserver.services.assistant import faq as bot_faq
from chatserver.settings import LANGUAGES, load_settings
from chatserver.settings.bot import EXAMPLE_FAQ

EVAL = Path(__file__).resolve().parent.parent / "chatserver" / "faq" / "example_shop_eval.tsv"
FILLER = ("tuote tarjous kampanja kevät kesä syksy talvi koira kissa puutarha keittiö sohva "
          "produkt erbjudande kampanj vår sommar höst hund katt trädgård kök soffa stol "
          "product offer campaign spring summer autumn dog cat garden kitchen sofa chair").split()


def grown(size: int) -> list[dict[str, Any]]:
    rng = random.Random(7)
    base = bot_faq.to_data(bot_faq.load(EXAMPLE_FAQ))
    items = []
    for number in range(size):
        item = {"id": f"{base[number % len(base)]['id']}-{number}"}
        extra = " ".join(rng.sample(FILLER, 3)) + f" malli{number}"
        for language in LANGUAGES:
            part = dict(base[number % len(base)][language])
            part["questions"] = [f"{q} {extra}" for q in part.get("questions", [])] or [extra]
            part.pop("title", None)
            item[language] = part
        items.append(item)
    return items


def labelled(entries: list[dict[str, Any]], count: int) -> list[dict[str, str]]:
    copies: dict[str, list[str]] = {}
    for item in entries:
        copies.setdefault(item["id"].rsplit("-", 1)[0], []).append(item["id"])
    rows = [(lang, q, e) for _n, lang, q, e in bot_eval.read(EVAL)]
    out = []
    for number in range(count):
        language, question, expected = rows[number % len(rows)]
        if expected in copies:
            expected = copies[expected][number % len(copies[expected])]
        out.append({"language": language, "question": question, "expected": expected})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=200)
    parser.add_argument("--questions", type=int, default=1000)
    args = parser.parse_args()
    settings = load_settings(environ={}, overrides={})
    draft = grown(args.entries)
    questions = labelled(draft, args.questions)
    store = faq_store.LiveFaq(settings)
    ctx: Any = SimpleNamespace(settings=settings, faq=store)
    live = bot_faq.from_data(grown(args.entries))
    store._known = bot.build(live, settings.bot.privacy_answers)  # noqa: SLF001  (as if saved)
    print(f"FAQ of {args.entries} entries in {', '.join(LANGUAGES)}; {len(questions)} labelled "
          f"questions; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    started = time.perf_counter()
    entries = faq_store.entries_of(draft)
    known = store.draft(entries)
    indexed = time.perf_counter() - started
    started = time.perf_counter()
    scored = faq_store.score(settings, known, faq_store.labelled_of(questions))
    run = time.perf_counter() - started
    store._draft = None  # noqa: SLF001  (the whole comparison from a cold draft)
    started = time.perf_counter()
    compared = faq_store.compare(ctx, draft, questions)
    whole = time.perf_counter() - started
    draft[0]["en"]["questions"].append("One more example question")  # the next edit
    started = time.perf_counter()
    faq_store.compare(ctx, draft, questions)
    again = time.perf_counter() - started
    print(f"check and index the draft     {indexed:6.2f} s")
    print(f"run {len(questions)} questions on it     {run:6.2f} s   "
          f"({scored['right']}/{scored['total']} right)")
    print(f"whole comparison (live+draft) {whole:6.2f} s   "
          f"(right: {compared['before']['right']} -> {compared['after']['right']})")
    print(f"after an edit (live cached)   {again:6.2f} s")


if __name__ == "__main__":
    main()
