"""Records that flow between the steps: search hits, pages, the prepared prompt, the clock."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from searchqa.events import SearchReport, Source

if TYPE_CHECKING:
    from searchqa.protocols import Turn


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One search result as an engine returned it."""

    url: str
    title: str
    snippet: str
    engine: str
    published: str | None = None
    content: str | None = None
    """The page's full text when the engine already holds it (the local index): no fetch needed."""


@dataclass(frozen=True, slots=True)
class FetchedPage:
    """A page body that passed the guard and the size, type and time caps."""

    url: str
    """Final URL, after redirects."""
    requested_url: str
    text: str
    """The decoded body (HTML or plain text)."""
    content_type: str


@dataclass(frozen=True, slots=True)
class Page:
    """A page's main text, ready to be packed into the prompt."""

    url: str
    title: str
    text: str
    snippet: str = ""
    published: str | None = None

    @property
    def site(self) -> str:
        host = urlsplit(self.url).hostname or ""
        return host.removeprefix("www.")


@dataclass(slots=True)
class FetchStats:
    """What happened to the pages a question asked for."""

    attempted: int = 0
    fetched: int = 0
    failed: int = 0
    abandoned: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    blocked: list[str] = field(default_factory=list)
    """URLs the SSRF guard refused (their names resolved to private addresses, say)."""

    def fail(self, reason: str) -> None:
        self.failed += 1
        self.failures[reason] = self.failures.get(reason, 0) + 1


class Stopwatch:
    """Milliseconds since the request started."""

    def __init__(self) -> None:
        self._start = time.perf_counter()

    def ms(self) -> float:
        return round((time.perf_counter() - self._start) * 1000, 1)


@dataclass(frozen=True, slots=True)
class PreparedPrompt:
    """The filled template and everything the generate step needs to send, cite and time it."""

    prompt: str
    sources: list[Source]
    max_tokens: int
    history: Sequence[Turn] = ()
    """Earlier turns of the conversation, sent before the prompt."""
    temperature: float | None = None
    """A per-request temperature (already within 0.5-0.7); None for the configured one."""
    flags: list[str] = field(default_factory=list)
    search_ms: float | None = None
    fetch_ms: float | None = None
    search: SearchReport | None = None
    """What the search did; None for a question about a file."""
