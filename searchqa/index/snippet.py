"""Snippets: the stretch of a document's body where the question's terms cluster."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from searchqa.index.store import MATCH_END, MATCH_START
from searchqa.index.tokenize import cjk_share

SNIPPET_CHARS = 240
"""Characters in a snippet before ellipses; half as many for mostly-CJK text."""
_MAX_SPANS = 400
_WORD_EDGE = 24
"""How far a cut may move to land on whitespace instead of inside a word."""
_SPACES = re.compile(r"\s+")
_SPACE = re.compile(r"\s")

Span = tuple[int, int, str]


def make_snippet(marked_body: str, grams: Sequence[str], *, width: int = SNIPPET_CHARS) -> str:
    """Cut the window of ``width`` characters holding the most distinct matched terms.

    ``marked_body`` has FTS5's matches between MATCH_START and MATCH_END (words, stemmed as the
    index stems them); CJK ``grams`` are found by plain search, as CJK has no case or stems.
    A body with no match (the title matched) gives its opening.
    """
    text, spans = _unmark(marked_body)
    if cjk_share(text[:2000]) > 0.3:
        width //= 2  # a CJK character is about two letters wide
    for gram in grams:
        start = text.find(gram)
        while start != -1 and len(spans) < _MAX_SPANS:
            spans.append((start, start + len(gram), gram))
            start = text.find(gram, start + 1)
    if not spans:
        return _render(text, 0, width)
    spans.sort()
    # Slide a window over the spans (each anchors one, a quarter width in), counting keys.
    lead = width // 4
    in_window: Counter[str] = Counter()
    low = high = 0
    best_start, best_count = 0, 0
    for anchor, _, _ in spans:
        window_start = max(0, anchor - lead)
        while high < len(spans) and spans[high][1] <= window_start + width:
            in_window[spans[high][2]] += 1
            high += 1
        while low < high and spans[low][0] < window_start:
            in_window[spans[low][2]] -= 1
            if not in_window[spans[low][2]]:
                del in_window[spans[low][2]]
            low += 1
        if len(in_window) > best_count:
            best_start, best_count = window_start, len(in_window)
    return _render(text, best_start, width)


def _unmark(marked: str) -> tuple[str, list[Span]]:
    parts: list[str] = []
    spans: list[Span] = []
    length = 0
    for i, piece in enumerate(marked.split(MATCH_START)):
        if i == 0 or MATCH_END not in piece:
            parts.append(piece)
            length += len(piece)
            continue
        word, rest = piece.split(MATCH_END, 1)
        if len(spans) < _MAX_SPANS:
            spans.append((length, length + len(word), word.casefold()))
        parts.extend((word, rest))
        length += len(word) + len(rest)
    return "".join(parts), spans


def _render(text: str, start: int, width: int) -> str:
    end = min(len(text), start + width)
    if start > 0:
        space = _find_space(text, start, start + _WORD_EDGE)
        if space != -1 and text[start - 1].isalnum() and text[start].isalnum():
            start = space + 1
    if end < len(text):
        space = _rfind_space(text, end - _WORD_EDGE, end)
        if space != -1 and text[end - 1].isalnum() and text[end].isalnum():
            end = space
    snippet = _SPACES.sub(" ", text[start:end]).strip()
    return ("…" if start > 0 else "") + snippet + ("…" if end < len(text) else "")


def _find_space(text: str, start: int, end: int) -> int:
    found = _SPACE.search(text, start, end)
    return -1 if found is None else found.start()


def _rfind_space(text: str, start: int, end: int) -> int:
    spaces = [m.start() for m in _SPACE.finditer(text, max(0, start), end)]
    return spaces[-1] if spaces else -1
