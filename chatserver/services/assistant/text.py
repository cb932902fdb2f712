"""Turning a visitor's text into the words the assistant matches (docs/bot.md, "Matching").

Per language, every word becomes a `Word`:

- **keys**: the Snowball stem of the word's base form. Finnish base forms come from Voikko (the
  free morphological analyser of Finnish, when the system has it: Debian's `libvoikko1` and
  `voikko-fi`); a word Voikko does not know (a typo, spoken Finnish) and every Swedish and
  English word is stemmed as written. A Finnish word with two readings ("ajan": *aika*, *ajaa*)
  keeps both keys.
- **parts**: the keys of a compound's parts ("renkaanvaihdon" → *rengas* + *vaihto*), from Voikko
  in Finnish and, in Swedish, from the FAQ's own vocabulary ("leveranstiden" → *leverans* +
  *tiden*).
- **weight**: how much the word says, from its frequency in general language (the `wordfreq`
  package): "hello", "please" and "would" weigh little, "winter tyres" much. A word the FAQ
  never uses therefore lowers the confidence only as much as it is a word that means something.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import snowballstemmer
import wordfreq

log = logging.getLogger(__name__)

STEMMERS = {"fi": "finnish", "sv": "swedish", "en": "english"}
MIN_HEAD, MIN_TAIL = 5, 3  # shortest first and last part of a Swedish compound that is split
# ... when its parts are split as common words of the language instead: at least this long, and
# at least this common (Zipf frequency), each.
SPLIT_HEAD, SPLIT_TAIL, SPLIT_ZIPF = 3, 4, 3.0
# A word's weight falls linearly from 1 at Zipf frequency FULL_ZIPF (about once per 100,000
# words) to LEAST_WEIGHT at NO_ZIPF (the most common words of the language).
FULL_ZIPF, NO_ZIPF, LEAST_WEIGHT = 3.5, 7.0, 0.05
PROPER_NAMES = frozenset({"etunimi", "sukunimi", "paikannimi", "nimi"})

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
_FOLD = str.maketrans({"ä": "a", "ö": "o", "å": "a", "é": "e", "ü": "u"})
_WORDBASE = re.compile(r"\+([^+(]*)\(([^)]*)\)")

STOPWORDS: dict[str, frozenset[str]] = {
    "fi": frozenset("""
        ja tai sekä mutta että jos kun kuin niin myös vain jo nyt vielä sitten siis kyllä ei en et
        emme ette eivät eikä ole on olen olet olemme olette ovat oli olivat olla ollut ollaan
        onko onks oliko olisi olisiko voi voiko voinko voisinko voitteko voitko voisiko voiks
        voisitteko saa saako saanko saisinko saisiko saada pitää pitääkö täytyy täytyykö tarvitsee
        minä mä mää sinä sä hän me te he minun mun sinun sun teidän meidän heidän minulle mulle
        minua mua minulla mulla multa minulta sulla sulle teille teillä teitä teiltä meille
        meillä häntä se sen sitä siitä siihen siinä sillä ne niitä niiden tämä tän tämän tätä tässä
        tähän nämä noin tuo mikä mitä mikään mitkä missä mistä mihin millä miten miks miksi
        milloin kuka ketkä kenen kenelle kuinka montako koska jotta joka jota jonka jossa joita
        johon mille minkä ko kö ku et jos jotenkin jotain jotakin joku jokin mitään mulle
        olisin haluaisin haluan halusin haluisin tietää kertoa kertokaa kerro kysyä kysyisin
        kysyn kysymys teen teet tekee tehdä tehdään
        kanssa kautta jälkeen ennen aikana asti vai nii noh no joo juu ok okei siellä täällä
        vaan ihan kiva hyvä paljon vähän just vaikka eli elikkä kans myös
        """.split()),
    "sv": frozenset("""
        och eller men att om när som så också bara redan nu än sedan ja nej inte ej
        är var vara varit blir blev bli har hade ha haft kan kunde kunna ska skulle måste
        får fick få vill ville jag du han hon vi ni de den det dem mig dig oss er min mitt
        mina din ditt dina vår vårt våra er ert era sin sitt sina man en ett denna detta
        dessa vad vilken vilket vilka var vart varifrån hur varför när vem vems hos med
        för på i av till från om under efter före över genom mot vid utan hur många
        finns jag skulle vilja veta berätta snälla fråga undrar undra tänkte
        lite bra okej ok just alltså typ liksom hur mycket någon något några här där
        """.split()),
    "en": frozenset("""
        a an the and or but if when than so also only already now yet then yes no not
        is are was were be been being am do does did doing have has had having can could
        will would shall should may might must i me my mine you your yours he him his she
        her it its we us our they them their this that these those what which who whom whose
        where when why how many there here time of in on at by for with about to from
        into over after before under up down out off again any some please tell know like
        want wanted get got i'm it's what's where's whats wheres don't doesn't didn't can't
        cannot isn't aren't hasn't haven't won't wouldn't i've i'd there's let's im
        just wondering wonder question ask asking quick ok okay thx pls u ur
        """.split()),
}

# Greetings and thanks: left out of a question whose other words the FAQ knows ("Moi! Onks
# teillä ..."), matched when nothing else is ("Moi", "kiitos avusta", for a greeting entry).
GREETINGS: dict[str, frozenset[str]] = {
    "fi": frozenset("""hei heippa moi moikka moro terve tervehdys päivää huomenta iltaa hyvää
                       kiitos kiitti kiitoksia hello hi""".split()),
    "sv": frozenset("""hej hejsan tjena tjenare hallå morjens morjes god dag morgon kväll
                       tack tackar hello hi""".split()),
    "en": frozenset("""hi hello hey hiya greetings good morning afternoon evening thanks thank
                       cheers""".split()),
}


def fold(text: str) -> str:
    return text.translate(_FOLD)


def words_of(text: str) -> list[str]:
    """Lower-case words of `text` (apostrophes kept inside words)."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower().replace("’", "'"))


@dataclass(frozen=True)
class Word:
    keys: tuple[str, ...]  # stems of the base forms (usually one)
    parts: tuple[str, ...]  # stems of a compound's parts; () when not a compound
    weight: float


def _voikko() -> Any:
    """A Voikko analyser of Finnish, or None where libvoikko or its dictionary is missing."""
    try:
        import libvoikko

        return libvoikko.Voikko("fi")
    except Exception:  # noqa: BLE001 - an absent library is an ordinary case here
        log.warning("bot: Voikko (Debian's libvoikko1 and voikko-fi) is not available; Finnish "
                    "words are stemmed without base forms and compounds (docs/bot.md)")
        return None


_VOIKKO: list[Any] = []


def voikko() -> Any:
    if not _VOIKKO:
        _VOIKKO.append(_voikko())
    return _VOIKKO[0]


class Analyzer:
    """Turns text in one language into `Word`s; memoised, so a word costs one look-up after
    its first time."""

    def __init__(self, language: str, vocabulary: frozenset[str] = frozenset()) -> None:
        self.language = language
        self.stopwords = STOPWORDS[language]
        self.greetings = GREETINGS[language]
        self._stemmer = snowballstemmer.stemmer(STEMMERS[language])
        self._voikko = voikko() if language == "fi" else None
        # Words that may head a Swedish compound: every word of the FAQ, in its plain form.
        self.vocabulary = vocabulary
        self.word = lru_cache(maxsize=50_000)(self._word)

    def stem(self, word: str) -> str:
        stem: str = self._stemmer.stemWord(word)
        if self.language == "fi" and len(stem) > 4 and stem.endswith("ks") \
                and stem[-3] in "aeiouyäö":
            # Nouns in -us/-ys keep -ukse-/-ykse- when inflected: "palautuksen" → "palautus".
            stem = stem[:-2] + "s"
        return stem

    def words(self, text: str) -> list[str]:
        """The words of `text` without stop words (greetings included)."""
        return [w for w in words_of(text) if w not in self.stopwords]

    def analyse(self, text: str) -> list[Word]:
        return [self.word(w) for w in self.words(text)]

    def split_greetings(self, text: str) -> tuple[list[Word], list[Word]]:
        """The words of `text` that say something, and its greetings and thanks."""
        content: list[Word] = []
        greetings: list[Word] = []
        for w in self.words(text):
            (greetings if w in self.greetings else content).append(self.word(w))
        return content, greetings

    def _word(self, word: str) -> Word:
        keys: tuple[str, ...] = ()
        parts: tuple[str, ...] = ()
        bases = [word]
        if self._voikko is not None:
            bases, parts = self._finnish(word)
        elif self.language == "sv":
            parts = tuple(self.stem(p) for p in self._split(word))
        keys = tuple(dict.fromkeys(self.stem(b) for b in bases))
        return Word(keys, parts, self._weight(word, bases))

    def _finnish(self, word: str) -> tuple[list[str], tuple[str, ...]]:
        assert self._voikko is not None
        readings = self._voikko.analyze(word)
        common = [r for r in readings if r.get("CLASS") not in PROPER_NAMES] or readings
        bases: list[str] = []
        parts: tuple[str, ...] = ()
        for reading in common[:3]:
            base = str(reading.get("BASEFORM", "")).lower()
            if base and base not in bases:
                bases.append(base)
            if not parts:
                parts = tuple(self.stem(p) for p in _compound_parts(
                    base, str(reading.get("WORDBASES", ""))))
        return bases or [word], parts

    def _split(self, word: str) -> tuple[str, ...]:
        """Parts of a Swedish compound: a first part that is a word of the FAQ, else the split
        into two common words of the language ("däckförvaring" → däck + förvaring, "lånekort"
        → låne + kort), a linking s or e allowed after the first."""
        if len(word) < MIN_HEAD + MIN_TAIL:
            return ()
        for cut in range(len(word) - MIN_TAIL, MIN_HEAD - 1, -1):
            head, tail = word[:cut], word[cut:]
            if head in self.vocabulary:
                return (head, tail)
            if head.endswith("s") and head[:-1] in self.vocabulary:
                return (head[:-1], tail)
        if self._known(word):
            return ()  # a common word as it is, not a compound to take apart
        best: tuple[float, tuple[str, ...]] = (0.0, ())
        for cut in range(len(word) - SPLIT_TAIL, SPLIT_HEAD - 1, -1):
            head, tail = word[:cut], word[cut:]
            for first in (head, head[:-1] if head[-1] in "se" else None):
                if first and len(first) >= SPLIT_HEAD:
                    score = min(self._known(first), self._known(tail))
                    if score > best[0]:
                        best = (score, (first, tail))
        return best[1]

    def _known(self, word: str) -> float:
        """How common `word` is (Zipf), or 0 below SPLIT_ZIPF."""
        zipf = wordfreq.zipf_frequency(word, self.language, wordlist="small")
        return zipf if zipf >= SPLIT_ZIPF else 0.0

    def _weight(self, word: str, bases: list[str]) -> float:
        zipf = max(wordfreq.zipf_frequency(w, self.language, wordlist="small")
                   for w in (word, *bases))
        share = (NO_ZIPF - zipf) / (NO_ZIPF - FULL_ZIPF)
        return max(LEAST_WEIGHT, min(1.0, share))


def _compound_parts(base: str, wordbases: str) -> list[str]:
    """The base forms of a Finnish compound's parts from Voikko's WORDBASES, or [] for a word
    that is not a compound. "+toimit(toimittaa)+us(+us)+aika(aika)" → toimitus, aika: a
    derivational suffix ("(+us)") joins the part before it, as written."""
    segments: list[list[str]] = []  # [written form, base form]
    for written, lemma in _WORDBASE.findall(wordbases):
        if lemma.startswith("+") and segments:
            segments[-1][0] += written
            segments[-1][1] = segments[-1][0]
        else:
            segments.append([written, lemma])
    if len(segments) < 2:
        return []
    heads = [lemma.lower() for _written, lemma in segments[:-1]]
    written_head = "".join(written.lower() for written, _lemma in segments[:-1])
    last = segments[-1][1].lower()
    if base.startswith(written_head) and len(base) > len(written_head):
        last = base[len(written_head):]  # the last part in its base form, derivation included
    return [*heads, last]


def grams(key: str, size: int = 4) -> tuple[str, ...]:
    """Character n-grams of a stem, with a start marker and ä/ö/å folded (typos still meet)."""
    marked = "^" + fold(key)
    if len(marked) <= size:
        return (marked,)
    return tuple(marked[i:i + size] for i in range(len(marked) - size + 1))
