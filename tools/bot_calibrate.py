"""Fits the assistant's two confidence models (chatserver/services/assistant/confidence.py)
on the *dev* domains of corpus/bot/ and the shipped shop FAQ, and prints them with the thresholds'
effect on that same dev data. The *test* domains are never read here (docs/bot.md).

    .venv/bin/python tools/bot_calibrate.py            # print the fitted models
    .venv/bin/python tools/bot_calibrate.py --write    # and write them into confidence.py

A plain logistic regression by gradient descent (a few thousand rows, seven features): no
dependency for a fit that runs once per change of the matcher.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chatserver.services.assistant import bot  # noqa: E402
from chatserver.services.assistant import confidence as bot_confidence  # noqa: E402
from chatserver.services.assistant import faq as bot_faq  # noqa: E402
from chatserver.services.assistant.evaluation import read  # noqa: E402

DEV = sorted((ROOT / "corpus" / "bot" / "dev").iterdir())
SHOP = (ROOT / "chatserver" / "faq" / "example_shop.toml",
        ROOT / "chatserver" / "faq" / "example_shop_eval.tsv")


def rows() -> list[tuple[tuple[float, ...], int, int, bool]]:
    """(features, top-1 right, right among three, in scope) for every dev question."""
    found = []
    sets = [(d / "faq.toml", d / "questions.tsv") for d in DEV] + [SHOP]
    for faq, questions in sets:
        knowledge = bot.build(bot_faq.load(faq))
        for _number, language, question, expected in read(questions):
            match = knowledge.indexes[language].match(question)
            ids = [c.id for c in match.candidates]
            found.append((bot_confidence.features(match), int(ids[:1] == [expected]),
                          int(expected in ids[:3]), expected != "none"))
    return found


def fit(xs: list[tuple[float, ...]], ys: list[int], *, steps: int = 4000, rate: float = 0.5,
        l2: float = 1e-3) -> tuple[float, tuple[float, ...]]:
    size = len(xs[0])
    bias, weights = 0.0, [0.0] * size
    for _ in range(steps):
        grad_b, grad_w = 0.0, [0.0] * size
        for x, y in zip(xs, ys, strict=True):
            z = bias + sum(w * v for w, v in zip(weights, x, strict=True))
            error = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z)))) - y
            grad_b += error
            for i, v in enumerate(x):
                grad_w[i] += error * v
        bias -= rate * grad_b / len(xs)
        weights = [w - rate * (g / len(xs) + l2 * w) for w, g in zip(weights, grad_w,
                                                                         strict=True)]
    return round(bias, 3), tuple(round(w, 3) for w in weights)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="write the models into "
                        "chatserver/services/assistant/confidence.py")
    args = parser.parse_args()
    data = rows()
    xs = [x for x, *_ in data]
    answer = fit(xs, [top1 for _x, top1, _top3, _in in data])
    offer = fit(xs, [top3 and in_scope for _x, _top1, top3, in_scope in data])
    print(f"fitted on {len(data)} dev questions ({', '.join(d.name for d in DEV)}, shop)")
    print(f"ANSWER_MODEL = {answer!r}\nOFFER_MODEL = {offer!r}")
    if args.write:
        path = ROOT / "chatserver" / "services" / "assistant" / "confidence.py"
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"ANSWER_MODEL = .*", f"ANSWER_MODEL = {answer!r}", text)
        text = re.sub(r"OFFER_MODEL = .*", f"OFFER_MODEL = {offer!r}", text)
        path.write_text(text, encoding="utf-8")
        print(f"written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
