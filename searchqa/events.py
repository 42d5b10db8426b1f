"""The event stream: the one contract between the answer flow and every surface.

Each event is a flat JSON object ``{"type": <name>, ...fields}``, in the order ``EVENT_ORDER``.
Consumers handle the ``Event`` union with ``match`` and ``assert_never``, so a new event type
fails type-checking wherever it is not handled.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

EVENT_ORDER = "meta status* sources (status|reasoning)* (status|answer|citation)* (done|error)"
"""The grammar of every stream; ``error`` may end one at any point after ``meta``."""

Language = Literal["zh", "en"]
SearchLanguage = str
"""A BCP 47 tag (``en``, ``fr``, ``zh-CN``, ``zh-TW``...): the language engines are asked for."""
TemplateName = Literal["zh", "en", "file"]
Stage = Literal["search", "fetch", "read", "think", "answer"]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_json(self) -> str:
        """The wire form: one compact JSON object."""
        return self.model_dump_json()

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class Source(BaseModel):
    """One ``[webpage X begin]`` block of the prompt, ``index`` = X."""

    model_config = ConfigDict(frozen=True)

    index: int
    url: str
    title: str
    site: str
    snippet: str
    published: str | None = None


class Usage(BaseModel):
    """Token usage in OpenAI's shape."""

    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class Timings(BaseModel):
    """Milliseconds from request start; ``None`` for a stage that never happened."""

    model_config = ConfigDict(frozen=True)

    search_ms: float | None = None
    fetch_ms: float | None = None
    first_token_ms: float | None = None
    first_answer_ms: float | None = None
    total_ms: float = 0.0


class EngineFailure(BaseModel):
    """An engine of the chain that was tried and failed, or skipped (its circuit open)."""

    model_config = ConfigDict(frozen=True)

    engine: str
    reason: str


class SearchReport(BaseModel):
    """What the search did: the query sent, the engine whose results were used, and the
    engines before it that failed or were skipped."""

    model_config = ConfigDict(frozen=True)

    query: str
    engine: str | None = Field(description="The engine whose results were used; null: none")
    failed: list[EngineFailure] = Field(default_factory=list)


class MetaEvent(_Event):
    type: Literal["meta"] = "meta"
    request_id: str
    query: str
    language: Language
    template: TemplateName
    date: str
    model: str
    search_language: SearchLanguage | None = Field(
        default=None,
        description="BCP 47 tag of the language the engines are asked for; null: no search",
    )


class StatusEvent(_Event):
    type: Literal["status"] = "status"
    stage: Stage
    done: int = 0
    total: int = 0
    query: str | None = Field(
        default=None, description="Stage `search`: the query sent to the engines"
    )

    def to_json(self) -> str:
        """The wire form; ``query`` only where there is one (stage ``search``)."""
        return self.model_dump_json(exclude={"query"} if self.query is None else None)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"query"} if self.query is None else None)


class SourcesEvent(_Event):
    type: Literal["sources"] = "sources"
    sources: list[Source]


class ReasoningEvent(_Event):
    type: Literal["reasoning"] = "reasoning"
    text: str


class AnswerEvent(_Event):
    type: Literal["answer"] = "answer"
    text: str


class CitationEvent(_Event):
    type: Literal["citation"] = "citation"
    index: int
    url: str
    title: str
    offset: int


class DoneEvent(_Event):
    type: Literal["done"] = "done"
    answer: str
    reasoning: str
    cited: list[int]
    usage: Usage
    timings: Timings
    cached: bool = False
    flags: list[str] = Field(default_factory=list)
    search: SearchReport | None = Field(
        default=None, description="What the search did; null for questions about a file"
    )


class ErrorEvent(_Event):
    type: Literal["error"] = "error"
    code: str
    message: str
    retryable: bool = False
    service: str | None = None
    """The upstream that failed (``search``, ``llm``), when one did."""


Event = Annotated[
    MetaEvent
    | StatusEvent
    | SourcesEvent
    | ReasoningEvent
    | AnswerEvent
    | CitationEvent
    | DoneEvent
    | ErrorEvent,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(data: str | bytes) -> Event:
    """Parse one event from its JSON wire form (for clients and tests)."""
    return EVENT_ADAPTER.validate_json(data)
