"""The answer as Slack Markdown: linked citations, no mentions smuggled in, clean splits.

Model output is untrusted: a page can talk the model into writing ``<!channel>`` or ``<@U123>``,
which Slack would turn into a ping. Slack's own rule is to escape ``&``, ``<`` and ``>`` where
they are not meant as controls; escaping ``<`` and ``&`` is enough to make every such sequence
plain text, and leaving ``>`` alone keeps Markdown quotes working.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from searchqa.events import CitationEvent

MAX_MESSAGE_CHARS = 12_000
"""Slack's limit on a streamed message's Markdown and on a markdown block."""
_MARKER_LIKE = re.compile(r"\[\d*\]?")
"""What may be a citation marker whose ``citation`` event has not come yet."""
_FENCE = re.compile(r"^\s*```", re.MULTILINE)
_URL_UNSAFE = {ord(c): f"%{ord(c):02X}" for c in " ()<>|\"'`"}


def escape_text(text: str) -> str:
    """Model text made safe for Slack: no mention, channel or link controls."""
    return text.replace("&", "&amp;").replace("<", "&lt;")


def escape_label(text: str) -> str:
    """Text inside a mrkdwn link label or context element."""
    return escape_text(text).replace(">", "&gt;").replace("|", "\u2758")


def safe_url(url: str) -> str:
    """A URL that cannot close a Markdown or mrkdwn link early."""
    return url.translate(_URL_UNSAFE)


def citation_link(index: int, url: str) -> str:
    return f"[[{index}]]({safe_url(url)})"


@dataclass
class CitedAnswer:
    """Turns ``answer`` deltas and ``citation`` events into Slack Markdown as it streams.

    A ``[n]`` becomes a link once its ``citation`` event names the source. Those events come
    right after the delta that holds the marker, so the text of earlier deltas is always
    final; in the newest delta, text stops before a marker-like ``[`` not yet confirmed.
    Returned strings are ready to append to the message.
    """

    answer: str = ""
    links: dict[int, CitationEvent] = field(default_factory=dict)
    """Citations by the offset of their ``[``."""
    released: int = 0
    delta_start: int = 0

    def add_text(self, delta: str) -> str:
        self.delta_start = len(self.answer)
        self.answer += delta
        return self._release(self._final_end())

    def add_citation(self, citation: CitationEvent) -> str:
        self.links[citation.offset] = citation
        return self._release(self._final_end())

    def finish(self) -> str:
        return self._release(len(self.answer))

    def _final_end(self) -> int:
        """Where the text that can no longer change ends."""
        for marker in _MARKER_LIKE.finditer(self.answer, max(self.released, self.delta_start)):
            if marker.start() not in self.links:
                return marker.start()
        return len(self.answer)

    def _release(self, upto: int) -> str:
        if upto <= self.released:
            return ""
        parts: list[str] = []
        position = self.released
        for offset in sorted(o for o in self.links if self.released <= o < upto):
            citation = self.links[offset]
            marker = f"[{citation.index}]"
            if self.answer.startswith(marker, offset):
                parts.append(escape_text(self.answer[position:offset]))
                parts.append(citation_link(citation.index, citation.url))
                position = offset + len(marker)
        parts.append(escape_text(self.answer[position:upto]))
        self.released = upto
        return "".join(parts)


def split_point(text: str, limit: int = MAX_MESSAGE_CHARS) -> int:
    """Where to end a message of ``text`` that is longer than ``limit``: after the last
    paragraph break, else line break, else space in the second half of the limit."""
    window = text[:limit]
    for separator in ("\n\n", "\n", " "):
        cut = window.rfind(separator, limit // 2)
        if cut > 0:
            return cut + len(separator)
    return limit


def close_open_fence(text: str) -> tuple[str, str]:
    """``text`` with an unclosed code fence closed, and what the next message must reopen."""
    if len(_FENCE.findall(text)) % 2 == 0:
        return text, ""
    return text.rstrip("\n") + "\n```\n", "```\n"


def plain_answer(markdown: str) -> str:
    """Back from a posted message's Markdown to the answer the model wrote (for history)."""
    unlinked = re.sub(r"\[\[(\d+)\]\]\([^)\s]*\)", r"[\1]", markdown)
    return unlinked.replace("&lt;", "<").replace("&amp;", "&")
