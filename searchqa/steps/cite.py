"""Turn the model's ``[citation:X]`` markers into ``[n]`` citations, as the answer streams.

A marker is an opening bracket (``[``, ``【`` or ``［``), the word ``citation`` in any case, a colon
(``:`` or ``：``), one or more source numbers separated by commas, semicolons or ``、`` (ASCII or
full-width), and a closing bracket (``]``, ``】`` or ``］``), with spaces allowed between the parts.
It becomes one ``[n]`` per distinct source it names, each followed by a ``citation`` event whose
``offset`` is the code-point offset of that ``[`` in the normalised answer. Numbers that name no
source are dropped; a marker naming none disappears, and so do the spaces before it when
punctuation follows (``a bad one [citation:42].`` becomes ``a bad one.``). Within one marker, and
within a run of adjacent markers (``[citation:3][citation:3]``), a source is cited once.

Anything else passes through unchanged, including a bare ``[3]`` the model writes itself: it is
text, not a citation, and gets no event (only ``citation`` events say what was cited). So do
``[citation needed]``, Markdown links and a marker left unfinished when the stream ends.

Chunks may split anywhere. Text is emitted as soon as it cannot be part of a marker; only an
unfinished marker candidate (at most ``MAX_MARKER_CHARS`` characters) and the spaces before it
or before a dropped marker are held back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from searchqa.events import AnswerEvent, CitationEvent, Source

__all__ = ["MAX_MARKER_CHARS", "CitationParser"]

MAX_MARKER_CHARS = 64
_OPENER = re.compile(r"[\[【［]")
_CLOSERS = frozenset("]】］")
_COLONS = frozenset(":：")
_SEPARATORS = frozenset(",，;；、")
_SPACES = frozenset(" \t\u00a0\u3000")
_DIGITS = frozenset("0123456789０１２３４５６７８９")
_KEYWORD = "citation"
_CLOSING_PUNCTUATION = frozenset(".,;:!?)。，；：！？）")
"""Punctuation that takes no space before it: a dropped marker's spaces go when it follows."""


@dataclass(frozen=True, slots=True)
class _Marker:
    end: int  # index just past the closing bracket
    numbers: tuple[int, ...]


class _Unfinished:
    """The text ends inside what may still become a marker."""


_UNFINISHED = _Unfinished()

# Scanner states: what the next non-space character must be.
_KEYWORD_STATE, _COLON_STATE, _NUMBER_STATE, _DIGITS_STATE, _AFTER_NUMBER_STATE = range(5)


def _scan_marker(text: str, start: int) -> _Marker | _Unfinished | None:
    """Read a marker opening at ``text[start]``: the marker, ``_UNFINISHED``, or ``None``."""
    state = _KEYWORD_STATE
    matched = 0  # letters of the keyword read so far
    numbers: list[int] = []
    digits_from = 0
    stop = min(len(text), start + MAX_MARKER_CHARS)
    for position in range(start + 1, stop):
        char = text[position]
        if state == _DIGITS_STATE:
            if char in _DIGITS:
                continue
            numbers.append(int(text[digits_from:position]))
            state = _AFTER_NUMBER_STATE
        if char in _SPACES and not (state == _KEYWORD_STATE and matched > 0):
            continue
        if state == _KEYWORD_STATE:
            if not (char.isascii() and char.lower() == _KEYWORD[matched]):
                return None
            matched += 1
            if matched == len(_KEYWORD):
                state = _COLON_STATE
        elif state == _COLON_STATE:
            if char not in _COLONS:
                return None
            state = _NUMBER_STATE
        elif state == _NUMBER_STATE:
            if char not in _DIGITS:
                return None
            digits_from = position
            state = _DIGITS_STATE
        elif char in _SEPARATORS:
            state = _NUMBER_STATE
        elif char in _CLOSERS:
            return _Marker(end=position + 1, numbers=tuple(numbers))
        else:
            return None
    return _UNFINISHED if stop == len(text) and stop - start < MAX_MARKER_CHARS else None


class CitationParser:
    """Normalise a streamed answer's citation markers; one parser per answer."""

    def __init__(self, sources: Sequence[Source]) -> None:
        self._sources = {source.index: source for source in sources}
        self._pending = ""  # an unfinished marker candidate, held back
        self._answer: list[str] = []
        self._length = 0  # code points in the answer so far
        self._cited: dict[int, None] = {}
        self._run: set[int] | None = None  # sources cited by the current run of markers
        self._held = ""  # spaces before a dropped marker, kept until we see what follows

    @property
    def answer(self) -> str:
        """The normalised answer emitted so far."""
        if len(self._answer) > 1:
            self._answer[:] = ["".join(self._answer)]
        return self._answer[0] if self._answer else ""

    @property
    def cited(self) -> list[int]:
        """Distinct source indexes, in order of first citation."""
        return list(self._cited)

    def feed(self, text: str) -> list[AnswerEvent | CitationEvent]:
        """Take the next chunk of model output; return the events it completes."""
        return self._parse(self._pending + text, final=False)

    def flush(self) -> list[AnswerEvent | CitationEvent]:
        """End of stream: release a held-back candidate as plain text."""
        return self._parse(self._pending, final=True)

    def _parse(self, text: str, *, final: bool) -> list[AnswerEvent | CitationEvent]:
        self._pending = ""
        events: list[AnswerEvent | CitationEvent] = []
        chunk: list[str] = []  # answer text not yet put in an event
        plain_from = 0  # start of the text not yet appended to the answer
        opener = _OPENER.search(text)
        while opener is not None:
            found = _scan_marker(text, opener.start())
            if isinstance(found, _Marker):
                self._append_before_marker(chunk, text[plain_from : opener.start()])
                self._cite(found.numbers, chunk, events)
                plain_from = found.end
                opener = _OPENER.search(text, found.end)
            elif found is _UNFINISHED and not final:
                before = text[plain_from : opener.start()]
                spaces = len(before) - len(before.rstrip("".join(_SPACES)))
                self._pending = text[opener.start() - spaces :]
                break
            else:
                opener = _OPENER.search(text, opener.start() + 1)
        self._append_text(chunk, text[plain_from : len(text) - len(self._pending)])
        if final:
            self._release_held(chunk)
        if chunk:
            events.append(AnswerEvent(text="".join(chunk)))
        return events

    def _append_before_marker(self, chunk: list[str], text: str) -> None:
        """The text before a marker; its trailing spaces wait to see whether the marker cites."""
        if text:
            self._run = None
        body = text.rstrip("".join(_SPACES))
        self._append_text(chunk, body)
        self._held += text[len(body) :]

    def _append_text(self, chunk: list[str], text: str) -> None:
        if text:
            if text[0] in _CLOSING_PUNCTUATION:
                self._held = ""
            self._release_held(chunk)
            self._emit(chunk, text)
            self._run = None

    def _release_held(self, chunk: list[str]) -> None:
        held, self._held = self._held, ""
        self._emit(chunk, held)

    def _emit(self, chunk: list[str], text: str) -> None:
        if text:
            chunk.append(text)
            self._answer.append(text)
            self._length += len(text)

    def _cite(
        self,
        numbers: tuple[int, ...],
        chunk: list[str],
        events: list[AnswerEvent | CitationEvent],
    ) -> None:
        run = self._run if self._run is not None else set()
        for number in numbers:
            source = self._sources.get(number)
            if source is None or number in run:
                continue
            run.add(number)
            self._release_held(chunk)
            label = f"[{number}]"
            offset = self._length
            self._emit(chunk, label)
            events.append(AnswerEvent(text="".join(chunk)))
            chunk.clear()
            events.append(
                CitationEvent(index=number, url=source.url, title=source.title, offset=offset)
            )
            self._cited.setdefault(number, None)
        self._run = run
