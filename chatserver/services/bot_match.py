"""Matching a visitor's question against FAQ entries: normalisation and a BM25-style score.

Pure and synchronous, with no I/O: the FAQ is indexed once (per file version), and one question
costs a few dictionary look-ups per term (see bench/bot_bench.py for figures).

Two channels of terms are scored, each BM25-style over the entries (an entry is one document:
all its example questions and keywords):

- **stems**: lower-cased words without stop words, stemmed with snowballstemmer in the entry's
  language; Finnish and Swedish compounds are also split into parts that occur elsewhere in the
  FAQ ("toimitusajat" → "toimitus" + "ajat"; "leveranstiden" → "leverans" + "tiden");
- **grams**: character 4-grams of each stem, with a start marker and ä/ö/å folded, so that
  typos and stems that differ in their last letters (Finnish consonant gradation:
  "toimitusaika" → "toimitusaik", "toimitusajat" → "toimitusaj") still meet.

The confidence of an entry is the share of the question's idf mass the entry covers (each term's
BM25 saturation capped at 1), averaged over both channels: a number from 0 to 1 that does not
depend on the length of the question. Words the FAQ has never seen have the highest idf, so a
question about something else keeps a low confidence even when it shares a word or two.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

STEMMERS = {"fi": "finnish", "sv": "swedish", "en": "english"}
GRAM = 4
K1, B = 1.2, 0.75
STEM_WEIGHT = 0.5  # share of the stem channel in the confidence; the rest is the gram channel
KEYWORD_TF = 2  # a keyword counts as this many occurrences
MIN_HEAD, MIN_TAIL = 6, 3  # shortest first and last part of a compound that is split
UNKNOWN_WEIGHT = 1.0  # a word the FAQ never uses weighs this many times the rarest FAQ word

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
_FOLD = str.maketrans({"ä": "a", "ö": "o", "å": "a", "é": "e", "ü": "u"})

STOPWORDS: dict[str, frozenset[str]] = {
    "fi": frozenset("""
        ja tai sekä mutta että jos kun kuin niin myös vain jo nyt vielä sitten siis kyllä ei en et
        emme ette eivät eikä ole on olen olet olemme olette ovat oli olivat olla ollut ollaan
        onko onks oliko olisi olisiko voi voiko voinko voisinko voitteko voitko voisiko voiks
        voisitteko saa saako saanko saisinko saisiko saada pitää pitääkö täytyy täytyykö tarvitsee
        minä mä sinä sä hän me te he minun mun sinun teidän meidän heidän minulle mulle minua
        minulla mulla teille teillä teitä teiltä meille meillä häntä se sen sitä siitä siihen
        siinä sillä ne niitä niiden tämä tämän tätä tässä tähän nämä noin tuo mikä mitä mikään
        mitkä missä mistä mihin millä miten miksi milloin kuka ketkä kenen kenelle kuinka
        montako koska jotta joka jota jonka jossa joita johon mille minkä
        ko kö
        olisin haluaisin haluan halusin haluisin tietää kertoa kertokaa kerro
        teen teet tekee tehdä tehdään mun sun
        te teidän teillä teille teiltä kanssa kautta jälkeen ennen aikana asti vai
        """.split()),
    "sv": frozenset("""
        och eller men att om när som så också bara redan nu än sedan ja nej inte ej
        är var vara varit blir blev bli har hade ha haft kan kunde kunna ska skulle måste
        får fick få vill ville jag du han hon vi ni de den det dem mig dig oss er min mitt
        mina din ditt dina vår vårt våra er ert era sin sitt sina man en ett denna detta
        dessa vad vilken vilket vilka var vart varifrån hur varför när vem vems hos med
        för på i av till från om under efter före över genom mot vid utan hur många
        finns jag skulle vilja veta berätta snälla
        """.split()),
    "en": frozenset("""
        a an the and or but if when than so also only already now yet then yes no not
        is are was were be been being am do does did doing have has had having can could
        will would shall should may might must i me my mine you your yours he him his she
        her it its we us our they them their this that these those what which who whom whose
        where when why how many there here time of in on at by for with about to from
        into over after before under up down out off again any some please tell know like
        want wanted get got i'm it's what's where's whats wheres don't doesn't didn't can't
        cannot isn't aren't hasn't haven't won't wouldn't i've i'd there's let's
        """.split()),
}


def fold(text: str) -> str:
    return text.translate(_FOLD)


@dataclass(frozen=True)
class Terms:
    stems: tuple[str, ...]
    grams: tuple[str, ...]


class Analyzer:
    """Turns text in one language into the terms both channels score."""

    def __init__(self, language: str, vocabulary: frozenset[str] = frozenset()) -> None:
        self.language = language
        self.stopwords = STOPWORDS[language]
        self._stemmer = snowballstemmer.stemmer(STEMMERS[language])
        self._stem = lru_cache(maxsize=20_000)(self._stem_uncached)
        # Words that may head a compound: every word of the FAQ, in its plain form.
        self.vocabulary = vocabulary
        self._split = lru_cache(maxsize=20_000)(self._split_uncached)

    def _stem_uncached(self, word: str) -> str:
        stem: str = self._stemmer.stemWord(word)
        if self.language == "fi" and len(stem) > 4 and stem.endswith("ks") \
                and stem[-3] in "aeiouyäö":
            # Nouns in -us/-ys keep -ukse-/-ykse- when inflected: "palautuksen" → "palautus".
            stem = stem[:-2] + "s"
        return stem

    def words(self, text: str) -> list[str]:
        text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
        return [w for w in _WORD.findall(text) if w not in self.stopwords]

    def _split_uncached(self, word: str) -> tuple[str, ...]:
        """Parts of a compound whose first part is a FAQ word (fi and sv only)."""
        if self.language == "en" or len(word) < MIN_HEAD + MIN_TAIL:
            return ()
        for cut in range(len(word) - MIN_TAIL, MIN_HEAD - 1, -1):
            head, tail = word[:cut], word[cut:]
            if head in self.vocabulary or (head.endswith("s") and head[:-1] in self.vocabulary):
                return (head.removesuffix("s") if head not in self.vocabulary else head, tail)
        return ()

    def terms(self, text: str) -> Terms:
        stems: list[str] = []
        grams: list[str] = []
        for word in self.words(text):
            stem = self._stem(word)
            parts = self._split(word)
            if parts:  # a compound counts as its parts ("toimitus" + "ajat")
                stems.extend(self._stem(part) for part in parts)
            else:
                stems.append(stem)
            marked = "^" + fold(stem)
            if len(marked) <= GRAM:
                grams.append(marked)
            else:
                grams.extend(marked[i:i + GRAM] for i in range(len(marked) - GRAM + 1))
        return Terms(tuple(stems), tuple(grams))


@dataclass(frozen=True)
class Document:
    id: str
    questions: tuple[str, ...]
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Match:
    id: str | None  # the best entry, or None when no entry shares a term
    confidence: float
    runner_up: float = 0.0


class _Channel:
    """Postings of one channel: term → [(document index, BM25 saturation)]."""

    def __init__(self, counts: list[Counter[str]]) -> None:
        self.size = len(counts)
        lengths = [sum(c.values()) for c in counts]
        average = (sum(lengths) / len(lengths)) if lengths else 1.0
        self.postings: dict[str, list[tuple[int, float]]] = {}
        for index, counter in enumerate(counts):
            norm = K1 * (1 - B + B * lengths[index] / (average or 1.0))
            for term, tf in counter.items():
                saturation = tf * (K1 + 1) / (tf + norm)
                self.postings.setdefault(term, []).append((index, saturation))
        self.unknown_idf = UNKNOWN_WEIGHT * self._idf(0)
        self.idf = {term: self._idf(len(p)) for term, p in self.postings.items()}

    def _idf(self, df: int) -> float:
        return math.log(1 + (self.size - df + 0.5) / (df + 0.5))

    def score(self, terms: tuple[str, ...], weight: float, ranks: list[float],
              shares: list[float]) -> None:
        """Adds, scaled by `weight`, each document's BM25 score (to rank documents) and the
        share of the question's idf mass it covers, saturation capped at 1 (the confidence)."""
        unique = set(terms)
        if not unique:
            return
        total = sum(self.idf.get(term, self.unknown_idf) for term in unique)
        for term in unique:
            postings = self.postings.get(term)
            if postings is None:
                continue
            idf = self.idf[term]
            for index, saturation in postings:
                ranks[index] += weight * idf * saturation
                shares[index] += weight * idf * min(1.0, saturation) / total


class Index:
    """The FAQ of one language, ready to match questions against."""

    def __init__(self, language: str, documents: list[Document]) -> None:
        self.language = language
        self.ids = [d.id for d in documents]
        plain = Analyzer(language)
        vocabulary = frozenset(
            word for d in documents for text in (*d.questions, *d.keywords)
            for word in plain.words(text) if len(word) >= MIN_HEAD
        )
        self.analyzer = Analyzer(language, vocabulary)
        stem_counts: list[Counter[str]] = []
        gram_counts: list[Counter[str]] = []
        for document in documents:
            stems: Counter[str] = Counter()
            grams: Counter[str] = Counter()
            for text, tf in [(q, 1) for q in document.questions] + \
                    [(k, KEYWORD_TF) for k in document.keywords]:
                terms = self.analyzer.terms(text)
                for term in terms.stems:
                    stems[term] += tf
                for term in terms.grams:
                    grams[term] += tf
            stem_counts.append(stems)
            gram_counts.append(grams)
        self._stems = _Channel(stem_counts)
        self._grams = _Channel(gram_counts)

    def __len__(self) -> int:
        return len(self.ids)

    def match(self, text: str) -> Match:
        if not self.ids:
            return Match(None, 0.0)
        terms = self.analyzer.terms(text)
        ranks = [0.0] * len(self.ids)
        shares = [0.0] * len(self.ids)
        self._stems.score(terms.stems, STEM_WEIGHT, ranks, shares)
        self._grams.score(terms.grams, 1.0 - STEM_WEIGHT, ranks, shares)
        best = max(range(len(ranks)), key=ranks.__getitem__)
        if ranks[best] <= 0.0:
            return Match(None, 0.0)
        runner_up = max((s for i, s in enumerate(shares) if i != best), default=0.0)
        return Match(self.ids[best], shares[best], runner_up)
