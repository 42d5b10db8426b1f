"""The roles adapters play. Steps depend on these, never on an adapter."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from searchqa.documents import SearchHit
from searchqa.events import SearchLanguage, Usage


class SearchEngine(Protocol):
    """A web or local search engine."""

    name: str

    async def search(
        self, query: str, *, language: SearchLanguage, max_results: int
    ) -> list[SearchHit]:
        """Return up to ``max_results`` hits; raise SearchError on failure or rate limit."""
        ...


@dataclass(frozen=True, slots=True)
class Turn:
    """One earlier message of the conversation; assistant turns carry no reasoning."""

    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class ModelDelta:
    """One piece of a streamed reply: thinking, answer text, or the final usage."""

    reasoning: str = ""
    content: str = ""
    usage: Usage | None = None
    prompt_read: tuple[int, int] | None = None
    """(prompt tokens read, prompt tokens) while a local model reads the prompt (prefill)."""


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What the model server says about itself."""

    id: str
    context_length: int | None = None
    max_output_tokens: int | None = None
    """A cap on the reply below the configured max_tokens (small local models)."""
    page_tokens: int | None = None
    """Most page text the model is given, in tokens, below the packing settings' cap: a small
    local model reads slowly and measured no better with more (bench/RESULTS.md)."""
    answers_without_sources: bool = True
    """False for a model too small to answer from what it knows: when search found nothing,
    the answer says so instead of asking it (it would invent one)."""


class ChatModel(Protocol):
    """A streaming chat model that follows DeepSeek-R1's usage rules."""

    async def describe(self) -> ModelInfo:
        """The served model's id and context window."""
        ...

    def stream(
        self,
        prompt: str,
        *,
        max_tokens: int,
        history: Sequence[Turn] = (),
        temperature: float | None = None,
    ) -> AsyncGenerator[ModelDelta, None]:
        """Stream a reply to ``prompt`` after earlier ``history`` turns (never a system prompt).

        ``temperature`` overrides the configured one (callers keep it in DeepSeek's 0.5-0.7).
        Raise LLMError on failure.
        """
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


@dataclass(frozen=True, slots=True)
class BriefReply:
    """A short reply written without the long thinking."""

    text: str
    cut_off: bool = False
    """The reply hit ``max_tokens`` before it ended."""


class BriefModel(Protocol):
    """The model asked for a few words at once, without thinking first (query rewriting)."""

    async def reply(
        self,
        prompt: str,
        *,
        max_tokens: int,
        timeout_s: float,
        stop: Sequence[str] = ("\n",),
        model: str | None = None,
    ) -> BriefReply:
        """The reply to ``prompt``; raise LLMError on failure or past ``timeout_s``."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
