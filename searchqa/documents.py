"""Records that flow between the steps: search hits, fetched pages, extracted pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit


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

    def fail(self, reason: str) -> None:
        self.failed += 1
        self.failures[reason] = self.failures.get(reason, 0) + 1
