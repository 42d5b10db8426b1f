"""What every HTTP surface asks of the answer source, whatever its wire format."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field

from searchqa.events import Event
from searchqa.protocols import Turn

__all__ = ["MAX_HISTORY_TURNS", "AnswerRequest", "AnswerSource", "Turn"]

MAX_HISTORY_TURNS = 20


@dataclass(frozen=True)
class AnswerRequest:
    """One question with its conversation and options, as the routes hand it over."""

    query: str
    history: list[Turn] = field(default_factory=list)
    engines: list[str] | None = None
    """Search engines to use, in order; None for the configured ones."""
    max_sources: int | None = None
    no_cache: bool = False
    temperature: float | None = None
    """Sampling temperature (kept within DeepSeek's 0.5-0.7); None for the configured one."""


AnswerSource = Callable[[AnswerRequest], AsyncGenerator[Event, None]]
"""Produces the event stream of one request (a Litestar dependency named ``answer_source``).

The routes close the generator when they are done with it, and early when the client leaves.
Invalid requests raise ``InvalidRequestError`` before the first event.
"""
