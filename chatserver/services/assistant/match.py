"""Matching a visitor's question against FAQ entries (docs/bot.md, "Matching").

Pure and synchronous, with no I/O: the FAQ is indexed once per version, and one question costs
a few dictionary look-ups per word (bench/bot_bench.py).

Each entry is matched on two fields: its example questions, title and keywords (the strong
field), and its answer (the weak one: a visitor asks in the words the answer uses more often
than in the words of the three examples an operator wrote). A word of the question (text.py)
meets an entry when one of its base forms is there, when its compound parts are, or, for a word
the FAQ never uses, when a FAQ word is spelled nearly the same (character 4-grams: typos).

For every entry two sums run over the question's words, each word counted with its weight
(general-language rarity):
- **coverage**: the share of the question's weight the entry accounts for (0..1);
- **rank**: the same with each word also weighted by how few entries use it (BM25's idf), which
  orders the entries.
The confidence that decides between answering, offering choices and handing off is computed from
these in bot_confidence.py.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache

from chatserver.services.assistant.text import MIN_HEAD, Analyzer, Word, grams, words_of

STRONG, WEAK = 1.0, 0.7  # how much a word counts in the questions/title/keywords and the answer
PART = 0.8  # a compound's part standing for the whole, in either direction
FUZZY_MIN = 0.6  # least 4-gram Dice similarity of a misspelt word to a FAQ word
FUZZY = 0.8  # how much a misspelt word counts
IDF_POWER = 1.0  # how much rarity within the FAQ counts in the rank
EXAMPLE = 0.5  # weight of the nearest example's similarity in the rank
RANKED = 5  # candidates kept with a match, for choices and the confidence


@dataclass(frozen=True)
class Document:
    id: str
    questions: tuple[str, ...]
    keywords: tuple[str, ...] = ()
    title: str = ""
    answer: str = ""


@dataclass(frozen=True)
class Candidate:
    id: str
    rank: float
    coverage: float  # share of the question's weight this entry accounts for, 0..1
    examples: int  # the entry's example questions and keywords (more make a match surer)


@dataclass(frozen=True)
class Match:
    """The entries that share words with a question, best first, and what the question is
    made of (for the confidence)."""

    candidates: tuple[Candidate, ...]
    words: int  # meaningful words in the question
    unknown: float  # share of the question's weight no entry accounts for at all
    rarest_unknown: float  # weight of the weightiest word no entry uses (0 when none)

    @property
    def id(self) -> str | None:
        return self.candidates[0].id if self.candidates else None


@dataclass(frozen=True)
class _Hits:
    """What one word of a question meets: entry index → how well (0..1), and its idf."""

    entries: dict[int, float]
    idf: float


class Index:
    """The FAQ of one language, ready to match questions against."""

    def __init__(self, language: str, documents: list[Document]) -> None:
        self.language = language
        self.ids = [d.id for d in documents]
        self.sizes = [len(d.questions) + len(d.keywords) for d in documents]
        vocabulary = frozenset(
            word for d in documents for text in (*d.questions, *d.keywords, d.title, d.answer)
            for word in words_of(text) if len(word) >= MIN_HEAD)
        self.analyzer = Analyzer(language, vocabulary)
        postings: dict[str, dict[int, float]] = {}
        for index, document in enumerate(documents):
            for texts, field in (((*document.questions, *document.keywords, document.title),
                                  STRONG), ((document.answer,), WEAK)):
                for text in texts:
                    for word in self.analyzer.analyse(text):
                        for term, factor in _terms(word):
                            entries = postings.setdefault(term, {})
                            entries[index] = max(entries.get(index, 0.0), field * factor)
        self.postings = postings
        size = len(documents)
        self.idf = {term: math.log(1 + (size - len(p) + 0.5) / (len(p) + 0.5))
                    for term, p in postings.items()}
        self._grams: dict[str, list[str]] = {}
        for term in postings:
            for gram in set(grams(term)):
                self._grams.setdefault(gram, []).append(term)
        # Each example question (and title) on its own, for the nearest example's similarity.
        self._examples: list[int] = []  # example → entry index
        norms: list[float] = []
        example_postings: dict[str, list[int]] = {}
        for index, document in enumerate(documents):
            for text in (*document.questions, document.title):
                words = list(dict.fromkeys(self.analyzer.analyse(text)))
                if not words:
                    continue
                example = len(self._examples)
                self._examples.append(index)
                norms.append(sum(word.weight for word in words))
                for word in words:
                    for term, _factor in _terms(word):
                        example_postings.setdefault(term, []).append(example)
        self._example_norms = norms
        self._example_postings = {t: sorted(set(e)) for t, e in example_postings.items()}
        self.hits = lru_cache(maxsize=20_000)(self._hits)

    def __len__(self) -> int:
        return len(self.ids)

    def _hits(self, word: Word) -> _Hits:
        entries: dict[int, float] = {}
        idf = 0.0
        known = [key for key in word.keys if key in self.postings]
        for key in known:
            idf = max(idf, self.idf[key])
            for index, factor in self.postings[key].items():
                entries[index] = max(entries.get(index, 0.0), factor)
        if word.parts:
            shares: defaultdict[int, float] = defaultdict(float)
            for part in word.parts:
                for index, factor in self.postings.get(part, {}).items():
                    shares[index] += factor * PART / len(word.parts)
                if part in self.idf:
                    idf = max(idf, self.idf[part] * PART)
            for index, share in shares.items():
                entries[index] = max(entries.get(index, 0.0), share)
        if not known and not entries:
            term, similarity = self._similar(word.keys[0])
            if term is not None:
                idf = self.idf[term] * similarity
                for index, factor in self.postings[term].items():
                    entries[index] = factor * similarity * FUZZY
        return _Hits(entries, idf)

    def _similar(self, key: str) -> tuple[str | None, float]:
        """The FAQ term spelled most like `key` (4-gram Dice coefficient), if near enough."""
        mine = set(grams(key))
        shared: Counter[str] = Counter()
        for gram in mine:
            for term in self._grams.get(gram, ()):
                shared[term] += 1
        best, similarity = None, 0.0
        for term, count in shared.items():
            dice = 2 * count / (len(mine) + len(set(grams(term))))
            if dice > similarity:
                best, similarity = term, dice
        return (best, similarity) if similarity >= FUZZY_MIN else (None, 0.0)

    def _nearest(self, words: list[Word], total: float) -> dict[int, float]:
        """Per entry, the similarity of the question to its most similar example question:
        the weight they share over the geometric mean of their weights (a cosine)."""
        shared: defaultdict[int, float] = defaultdict(float)
        for word in words:
            seen: set[int] = set()
            for term, _factor in _terms(word):
                for example in self._example_postings.get(term, ()):
                    if example not in seen:
                        seen.add(example)
                        shared[example] += word.weight
        best: dict[int, float] = {}
        for example, weight in shared.items():
            similarity = weight / math.sqrt(total * self._example_norms[example])
            index = self._examples[example]
            best[index] = max(best.get(index, 0.0), similarity)
        return best

    def match(self, text: str) -> Match:
        content, greetings = self.analyzer.split_greetings(text)
        if not any(self.hits(word).entries for word in content):
            content += greetings
        words = list(dict.fromkeys(content))
        total = sum(word.weight for word in words)
        if not words or not self.ids or total <= 0:
            return Match((), len(words), 1.0 if words else 0.0, 0.0)
        ranks: defaultdict[int, float] = defaultdict(float)
        covered: defaultdict[int, float] = defaultdict(float)
        unknown, rarest = 0.0, 0.0
        for word in words:
            hits = self.hits(word)
            if not hits.entries:
                unknown += word.weight
                rarest = max(rarest, word.weight)
            for index, how_well in hits.entries.items():
                covered[index] += word.weight * how_well
                ranks[index] += word.weight * hits.idf ** IDF_POWER * how_well
        nearest = self._nearest(words, total)
        for index, similarity in nearest.items():
            ranks[index] += EXAMPLE * similarity
        best = sorted(ranks, key=lambda i: (-ranks[i], -covered[i]))[:RANKED]
        candidates = tuple(Candidate(self.ids[i], ranks[i], covered[i] / total,
                                     self.sizes[i]) for i in best)
        return Match(candidates, len(words), unknown / total, rarest)


def _terms(word: Word) -> list[tuple[str, float]]:
    """The terms under which a FAQ word is indexed: its keys, and its parts at PART."""
    return [*((key, 1.0) for key in word.keys), *((part, PART) for part in word.parts)]
