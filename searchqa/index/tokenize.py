"""Text to index terms, and user questions to safe FTS5 queries.

The index has two pairs of columns. ``title``/``body`` hold the text itself under FTS5's
``porter unicode61`` tokenizer: whole words, case- and accent-folded, English suffixes stemmed
(porter leaves tokens under three characters and non-ASCII tokens alone, so "AI", "Go" and CJK
pass through untouched). ``title_cjk``/``body_cjk`` hold CJK text (Han, kana, Hangul) rewritten
as space-separated unigrams and overlapping bigrams, because CJK is written without spaces and
unicode61 would index a whole run such as 今天北京天气很好 as one token. A two-character word like
天气 is then one bigram token, and a one-character question still matches through the unigrams.

Stemming is on because questions and documents inflect the same word differently
("communicate" / "communicating", "tomato" / "tomatoes"); porter's occasional over-stemming
("universe" / "university") costs little in an OR query that BM25 ranks.

A question becomes an OR of its terms, so a document matching only some words still ranks;
English stop words are dropped unless nothing else is left. Every term is a quoted FTS5 string,
so no user text can reach FTS5's query syntax (operators, column filters, NEAR, prefixes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_CJK_CHARS = (
    "\u3040-\u309f"  # hiragana
    "\u30a1-\u30fa\u30fc-\u30ff"  # katakana, without the ゠ and ・ punctuation
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\uac00-\ud7af"  # Hangul syllables
    "\U00020000-\U0003134f"  # CJK extensions B-G
)
_CJK_RUN = re.compile(f"[{_CJK_CHARS}]+")
_CJK_CHAR = re.compile(f"[{_CJK_CHARS}]")
# A letter or digit that is not CJK, next to a CJK character ("使用Go语言").
_SCRIPT_SEAM = re.compile(
    f"(?<=[{_CJK_CHARS}])(?=[^\\W_{_CJK_CHARS}])|(?<=[^\\W_{_CJK_CHARS}])(?=[{_CJK_CHARS}])"
)
_WORD = re.compile(r"[^\W_]+")
# Controls other than tab and newline: NUL breaks FTS5 strings, and \x02/\x03 mark matches.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

MAX_QUERY_CHARS = 2000
"""Longer questions are cut here before they are turned into terms."""
MAX_QUERY_TERMS = 48
"""Most terms sent to FTS5 for one question (English words plus CJK grams)."""

# Function words only: short content words ("go", "ai", "us", "c", "r") must stay searchable.
_ENGLISH_STOP_WORDS = """
a an the and or but nor not no if then than so as of in on at to for from by with without
about into onto over under between through during before after above below up down out off
is are was were be been being am do does did doing done have has had having
can could should would will shall may might must
i me my mine myself you your yours yourself he him his himself she her hers herself
it its itself we our ours ourselves they them their theirs themselves
this that these those there here what which who whom whose when where why how
all any both each few more most other some such only own same too very just also
s t d ll m re ve please tell explain describe
"""
ENGLISH_STOP_WORDS = frozenset(_ENGLISH_STOP_WORDS.split())

# Question words that carry no topic (为什 and 么样 are halves of 为什么 and 怎么样).
_CHINESE_STOP_GRAMS = "什么 怎么 怎样 如何 哪些 哪个 哪里 为什 么样 请问 是否 一下"
_CHINESE_PARTICLES = "的 了 吗 呢 吧 啊 是 在 和 与 有"
CHINESE_STOP_GRAMS = frozenset((_CHINESE_STOP_GRAMS + " " + _CHINESE_PARTICLES).split())


@dataclass(frozen=True, slots=True)
class QueryTerms:
    """A question split the way the index is: whole words and CJK grams."""

    words: tuple[str, ...]
    grams: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.words or self.grams)


def clean_text(text: str) -> str:
    """Drop control characters (tab and newline survive) so text is safe to store and mark."""
    return _CONTROL.sub("", text)


def index_text(text: str) -> str:
    """Text for the word columns: clean, with a space where CJK meets a Latin letter or digit."""
    return _SCRIPT_SEAM.sub(" ", clean_text(text))


def cjk_grams(text: str) -> str:
    """Text for the CJK columns: every CJK character and every adjacent pair, space-separated."""
    grams: list[str] = []
    for run in _CJK_RUN.findall(text):
        grams.extend(run)
        grams.extend(run[i : i + 2] for i in range(len(run) - 1))
    return " ".join(grams)


def query_terms(query: str) -> QueryTerms:
    """Split a question into words (stop words dropped) and CJK grams, in order, deduplicated."""
    text = clean_text(query[:MAX_QUERY_CHARS])
    words = _unique(w.casefold() for w in _WORD.findall(_CJK_RUN.sub(" ", text)))
    grams: list[str] = []
    for run in _CJK_RUN.findall(text):
        grams.extend([run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)])
    grams = _unique(grams)

    content_words = [w for w in words if w not in ENGLISH_STOP_WORDS]
    content_grams = [g for g in grams if g not in CHINESE_STOP_GRAMS]
    if content_words or content_grams:
        words, grams = content_words, content_grams
    budget = MAX_QUERY_TERMS
    return QueryTerms(words=tuple(words[:budget]), grams=tuple(grams[: budget - len(words)]))


def match_expression(terms: QueryTerms) -> str | None:
    """The FTS5 MATCH string: any word in the word columns OR any gram in the CJK columns."""
    parts: list[str] = []
    if terms.words:
        parts.append("{title body} : (" + " OR ".join(map(_quote, terms.words)) + ")")
    if terms.grams:
        parts.append("{title_cjk body_cjk} : (" + " OR ".join(map(_quote, terms.grams)) + ")")
    return " OR ".join(parts) or None


def cjk_share(text: str) -> float:
    """The fraction of ``text``'s characters that are CJK."""
    return len(_CJK_CHAR.findall(text)) / len(text) if text else 0.0


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
