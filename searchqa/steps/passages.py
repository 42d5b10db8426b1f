"""Passages of a page and their relevance to a question (BM25, CJK by character bigrams)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from searchqa.tokens import EstimatedTokenCounter

PASSAGE_TOKENS = 200
"""Paragraphs longer than this (estimated) are ranked in pieces: lines, sentences, clauses."""
LEDE_BONUS = 1.0
"""Added to the first passage's BM25 score: a page's opening usually frames the rest."""

_estimator = EstimatedTokenCounter()


@dataclass(frozen=True, slots=True)
class Passage:
    """A paragraph, or a piece of a long one: what is ranked, then kept or left out."""

    text: str
    joiner: str
    """What separated it from the passage before it on the page."""
    estimate: int


def join_passages(passages: Sequence[Passage], texts: dict[int, str] | None = None) -> str:
    """Passages (all, or those in ``texts`` with their kept text) joined as on the page."""
    indexes = range(len(passages)) if texts is None else texts
    parts: list[str] = []
    previous = -2
    for index in indexes:
        if parts:
            parts.append(passages[index].joiner if index == previous + 1 else "\n\n")
        parts.append(passages[index].text if texts is None else texts[index])
        previous = index
    return "".join(parts)


_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
_PIECE_BREAKS = (
    re.compile(r"\n+"),
    re.compile(r"(?<=[.!?;:])\s+|(?<=[。！？；：])\s*"),
    re.compile(r"\s+|(?<=[，、,])"),
)


def split_passages(text: str) -> list[Passage]:
    """Paragraphs in page order, long ones cut into pieces, repeated ones dropped."""
    passages: list[Passage] = []
    seen: set[str] = set()
    for paragraph in _PARAGRAPH_BREAK.split(text):
        paragraph = paragraph.strip()
        if paragraph and paragraph not in seen:
            seen.add(paragraph)
            pieces = _pieces(paragraph, 0)
            passages.append(Passage(pieces[0][1], "\n\n", pieces[0][2]))
            passages.extend(Passage(piece, joiner, tokens) for joiner, piece, tokens in pieces[1:])
    return passages


def _pieces(text: str, level: int) -> list[tuple[str, str, int]]:
    """(separator before, piece, estimate): pieces of at most PASSAGE_TOKENS, merged greedily."""
    estimate = _estimator.count(text)
    if estimate <= PASSAGE_TOKENS:
        return [("", text, estimate)]
    if level == len(_PIECE_BREAKS):  # no separator left: cut by characters
        size = max(1, len(text) * PASSAGE_TOKENS // estimate)
        chunks = [text[start : start + size] for start in range(0, len(text), size)]
        return [("", chunk, _estimator.count(chunk)) for chunk in chunks]
    parts: list[tuple[str, str, int]] = []
    separator, start = "", 0
    for match in [*_PIECE_BREAKS[level].finditer(text), None]:
        end = len(text) if match is None else match.start()
        if end > start:
            (_, first, tokens), *rest = _pieces(text[start:end], level + 1)
            parts += [(separator, first, tokens), *rest]
            separator = ""
        if match is not None:
            separator += match.group()
            start = match.end()
    merged = parts[:1]
    for joiner, piece, tokens in parts[1:]:
        if merged[-1][2] + tokens <= PASSAGE_TOKENS:
            merged[-1] = (merged[-1][0], merged[-1][1] + joiner + piece, merged[-1][2] + tokens)
        else:
            merged.append((joiner, piece, tokens))
    return merged


_STOPWORD_LIST = (
    "a an and are as at be been but by can could did do does for from had has have how i if in "
    "into is it its me my no not of on or our so than that the their them then there these they "
    "this to was we were what when where which who whom whose why will with would you your "
    "about after before between during many much more most some any all also just"
)
_CJK_STOP_LIST = (
    "什么 怎么 如何 为什 为何 哪些 哪个 哪里 多少 是否 可以 是什 么是 有哪 有什 请问 的是"
)
_STOPWORDS = frozenset(_STOPWORD_LIST.split())
_CJK_STOP = frozenset(_CJK_STOP_LIST.split() + list("的了是在吗呢和与及或有"))
_CJK_RUN = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+")
_WORD = re.compile(r"[^\W_]+")
_SUFFIXES = ("ing", "ies", "ed", "es", "s", "ly")


def question_terms(question: str) -> tuple[list[str], list[str]]:
    """(word stems, CJK character bigrams) of the question, stopwords left out."""
    lowered = question.lower()
    grams = {
        gram
        for run in _CJK_RUN.findall(lowered)
        for gram in ([run[i : i + 2] for i in range(len(run) - 1)] or [run])
        if gram not in _CJK_STOP
    }
    stems = set()
    for word in _WORD.findall(_CJK_RUN.sub(" ", lowered)):
        if word not in _STOPWORDS and (len(word) > 1 or word.isdigit()):
            suffix = next((s for s in _SUFFIXES if word.endswith(s) and len(word) > len(s) + 2), "")
            stems.add(word.removesuffix(suffix) if suffix else word)
    return sorted(stems, key=len, reverse=True), sorted(grams)


def _word_starts(words: re.Pattern[str], text: str) -> list[str]:
    """The stem of each match of ``words`` that starts a word of ``text``."""
    return [
        match.group(1)
        for match in words.finditer(text)
        if not (start := match.start()) or not (text[start - 1].isalnum() or text[start - 1] == "_")
    ]


def rank_passages(passages: Sequence[Passage], question: str) -> list[int]:
    """Passage indexes, most relevant first: BM25 over the page's passages, ties in page order.

    Words match by stem prefix ("reopened" finds "reopens"); CJK text, which has no spaces,
    matches by character bigrams. The first passage gets ``LEDE_BONUS``.
    """
    stems, grams = question_terms(question)
    # No \b in the pattern: it would keep re from skipping ahead to the stems' first letters
    # (three times slower); matches inside a word are dropped by hand instead.
    words = re.compile(rf"({'|'.join(map(re.escape, stems))})\w*")
    frequencies = []
    for passage in passages:
        text = passage.text.lower()
        found = Counter(_word_starts(words, text) if any(s in text for s in stems) else ())
        found.update({gram: n for gram in grams if (n := text.count(gram))})
        frequencies.append(found)
    count = len(passages)
    documents = Counter(term for found in frequencies for term in found)
    idf = {term: math.log(1 + (count - df + 0.5) / (df + 0.5)) for term, df in documents.items()}
    average = max(1.0, sum(p.estimate for p in passages) / max(count, 1))
    k1, b = 1.2, 0.75
    scores = [
        sum(
            idf[term] * tf * (k1 + 1) / (tf + k1 * (1 - b + b * passage.estimate / average))
            for term, tf in found.items()
        )
        for passage, found in zip(passages, frequencies, strict=True)
    ]
    if scores:
        scores[0] += LEDE_BONUS
    return sorted(range(count), key=lambda index: (-scores[index], index))
