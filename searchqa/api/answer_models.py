"""Wire models of the answer API: the request body, the file form, and the answer document.

The document is folded from the answer's event stream (JSON mode, ``GET /v1/answers/{id}``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Self, assert_never

from litestar.datastructures import UploadFile
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from searchqa.events import (
    AnswerEvent,
    CitationEvent,
    DoneEvent,
    ErrorEvent,
    MetaEvent,
    ReasoningEvent,
    SearchReport,
    Source,
    SourcesEvent,
    StatusEvent,
    Timings,
    Usage,
    parse_event,
)
from searchqa.service.requests import MAX_HISTORY_TURNS, AnswerRequest, Turn

QUESTION_PATTERN = (
    "[^\\x00-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
)
"""A question holds at least one character that is neither a control character nor white space.

Documented only: a blank question is refused by the flow (400 ``empty_query``) on every route,
not by the body's validation (422)."""


def _whole(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


WholeNumber = Annotated[int, BeforeValidator(_whole)]
"""An integer, written ``5`` or ``5.0`` (JSON Schema's integers); never ``"5"`` or ``true``."""


class StrictBody(BaseModel):
    """A request body parsed strictly: ``"5"`` is no integer, ``"yes"`` no boolean.

    Litestar validates bodies with ``strict=False``, which overrides the model's own config."""

    model_config = ConfigDict(strict=True)

    @classmethod
    def model_validate(cls, obj: Any, *, strict: bool | None = None, **options: Any) -> Self:
        return super().model_validate(obj, strict=True, **options)


class TurnBody(StrictBody):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: str


class AnswerBody(StrictBody):
    """A question and its options; unknown fields and loose types are refused."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(
        max_length=2000, description="The question", json_schema_extra={"pattern": QUESTION_PATTERN}
    )
    engines: list[str] | None = Field(
        default=None,
        description="Search engines in order, distinct, among the configured ones; "
        "absent or empty: the configured chain",
    )
    max_sources: WholeNumber | None = Field(default=None, ge=1, le=20, description="Pages to read")
    history: list[TurnBody] = Field(
        default_factory=list, max_length=MAX_HISTORY_TURNS, description="Earlier turns"
    )
    no_cache: bool = Field(default=False, description="Neither replay nor share an answer")
    stream: bool = Field(default=True, description="false: one JSON document")

    def to_request(self) -> AnswerRequest:
        return AnswerRequest(
            query=self.query,
            history=[Turn(role=turn.role, content=turn.content) for turn in self.history],
            engines=self.engines or None,
            max_sources=self.max_sources,
            no_cache=self.no_cache,
        )


@dataclass
class FileQuestion:
    """Multipart form of ``POST /v1/files/answer``."""

    file: UploadFile
    question: str
    stream: bool = True


class Citation(BaseModel):
    index: int
    url: str
    title: str
    offset: int


class AnswerError(BaseModel):
    code: str
    message: str
    retryable: bool
    service: str | None = None


class AnswerDocument(BaseModel):
    """Everything the stream said, in one object; ``status`` tells whether it has ended."""

    request_id: str | None = None
    status: Literal["running", "done", "error"] = "running"
    query: str | None = None
    language: str | None = None
    search_language: str | None = None
    model: str | None = None
    date: str | None = None
    answer: str = ""
    reasoning: str = ""
    sources: list[Source] = []
    citations: list[Citation] = []
    cited: list[int] = []
    usage: Usage | None = None
    timings: Timings | None = None
    cached: bool = False
    flags: list[str] = []
    search: SearchReport | None = None
    """The query searched, the engine used and the engines that failed (with ``done``)."""
    error: AnswerError | None = None

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def build_document(events: Iterable[str]) -> AnswerDocument:
    """Fold the JSON of a stream's events (in order) into one document."""
    doc = AnswerDocument()
    answer: list[str] = []
    reasoning: list[str] = []
    for data in events:
        event = parse_event(data)
        match event:
            case MetaEvent():
                doc.request_id, doc.query = event.request_id, event.query
                doc.language, doc.model, doc.date = event.language, event.model, event.date
                doc.search_language = event.search_language
            case StatusEvent():
                pass  # progress is not part of the document
            case SourcesEvent():
                doc.sources = list(event.sources)
            case ReasoningEvent():
                reasoning.append(event.text)
            case AnswerEvent():
                answer.append(event.text)
            case CitationEvent():
                doc.citations.append(Citation(**event.to_dict()))
            case DoneEvent():
                doc.status, doc.cached, doc.flags = "done", event.cached, list(event.flags)
                doc.usage, doc.timings, doc.cited = event.usage, event.timings, list(event.cited)
                doc.search = event.search
                answer, reasoning = [event.answer], [event.reasoning]
            case ErrorEvent():
                doc.status = "error"
                doc.error = AnswerError(**event.to_dict())
            case _:
                assert_never(event)
    doc.answer, doc.reasoning = "".join(answer), "".join(reasoning)
    return doc
