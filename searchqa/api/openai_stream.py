"""Translate the event stream into OpenAI ``chat.completion.chunk`` objects or one completion.

Streaming, per event:

- ``meta`` names the completion (``chatcmpl-<request_id>``); ``status`` sends nothing.
- ``sources`` sends the first chunk: ``delta.role`` plus Perplexity-style top-level
  ``search_results`` and ``citations`` (URLs; ``[n]`` cites ``citations[n - 1]``).
- ``reasoning`` -> ``delta.reasoning_content``; ``answer`` -> ``delta.content``, citations
  already ``[n]``; ``citation`` -> ``delta.annotations`` with one ``url_citation`` whose
  ``start_index``/``end_index`` span ``[n]`` in the whole content, counted in characters
  (code points), as Python's ``str`` counts them.
- ``done`` -> an empty delta with ``finish_reason: "stop"``, the sources again, ``search``
  (query, engine used, engines that failed) and ``flags`` (``search_degraded``...), then, when
  the client asked for ``stream_options.include_usage``, a chunk with ``choices: []`` and usage.
- ``error`` -> ``{"error": {"message", "type", "param", "code"}}``, which OpenAI clients raise.

The caller frames each payload as ``data: <json>`` and ends the stream with ``data: [DONE]``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import assert_never

from searchqa.api.openai_models import (
    Annotation,
    ChatCompletion,
    ChatCompletionChunk,
    ChunkChoice,
    ChunkDelta,
    CompletionChoice,
    CompletionMessage,
    ErrorDetail,
    ErrorResponse,
    SearchResult,
    UrlCitation,
)
from searchqa.errors import http_status_for
from searchqa.events import (
    AnswerEvent,
    CitationEvent,
    DoneEvent,
    ErrorEvent,
    Event,
    MetaEvent,
    ReasoningEvent,
    Source,
    SourcesEvent,
    StatusEvent,
)

DONE_LINE = b"data: [DONE]\n\n"

Payload = ChatCompletionChunk | ErrorResponse


def completion_id(request_id: str | None = None) -> str:
    return f"chatcmpl-{request_id or uuid.uuid4().hex}"


def search_results(sources: Iterable[Source]) -> list[SearchResult]:
    return [
        SearchResult(title=s.title, url=s.url, date=s.published, snippet=s.snippet)
        for s in sorted(sources, key=lambda s: s.index)
    ]


def citation_urls(sources: Iterable[Source]) -> list[str]:
    return [s.url for s in sorted(sources, key=lambda s: s.index)]


def annotation(event: CitationEvent) -> Annotation:
    """The ``url_citation`` spanning the ``[n]`` that ``event`` stands for."""
    label = f"[{event.index}]"
    return Annotation(
        url_citation=UrlCitation(
            url=event.url,
            title=event.title,
            start_index=event.offset,
            end_index=event.offset + len(label),
        )
    )


def error_type(http_status: int) -> str:
    return "invalid_request_error" if 400 <= http_status < 500 else "server_error"


def error_response(
    message: str, *, code: str, http_status: int, param: str | None = None
) -> ErrorResponse:
    detail = ErrorDetail(message=message, type=error_type(http_status), param=param, code=code)
    return ErrorResponse(error=detail)


def event_error(event: ErrorEvent) -> ErrorResponse:
    return error_response(event.message, code=event.code, http_status=http_status_for(event))


def sse_line(payload: Payload) -> bytes:
    """One SSE event carrying ``payload`` as its data."""
    return b"data: " + payload.model_dump_json().encode() + b"\n\n"


class ChunkTranslator:
    """Turns events, in order, into the payloads of one streamed chat completion."""

    def __init__(self, *, created: int, include_usage: bool = False) -> None:
        self.created = created
        self.include_usage = include_usage
        self.id = completion_id()
        self.finished = False
        """True once ``done`` or ``error`` went through."""
        self._sources: list[Source] = []
        self._started = False

    def translate(self, event: Event) -> list[Payload]:
        payloads: list[Payload] = []
        match event:
            case MetaEvent():
                self.id = completion_id(event.request_id)
            case StatusEvent():
                pass  # progress has no place in a chat completion
            case SourcesEvent():
                self._sources = list(event.sources)
                payloads += self._start()
            case ReasoningEvent():
                payloads += self._start()
                payloads.append(self._chunk(ChunkDelta(reasoning_content=event.text)))
            case AnswerEvent():
                payloads += self._start()
                payloads.append(self._chunk(ChunkDelta(content=event.text)))
            case CitationEvent():
                payloads.append(self._chunk(ChunkDelta(annotations=[annotation(event)])))
            case DoneEvent():
                payloads += self._start()
                last = self._chunk(ChunkDelta(), finish=True, with_sources=True)
                payloads.append(
                    last.model_copy(update={"search": event.search, "flags": list(event.flags)})
                )
                if self.include_usage:
                    payloads.append(self._usage_chunk(event))
                self.finished = True
            case ErrorEvent():
                payloads.append(event_error(event))
                self.finished = True
            case _:
                assert_never(event)
        return payloads

    def _start(self) -> list[Payload]:
        """The first chunk, once: the assistant role and the sources."""
        if self._started:
            return []
        self._started = True
        return [self._chunk(ChunkDelta(role="assistant", content=""), with_sources=True)]

    def _chunk(
        self, delta: ChunkDelta, *, finish: bool = False, with_sources: bool = False
    ) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=self.id,
            created=self.created,
            choices=[ChunkChoice(delta=delta, finish_reason="stop" if finish else None)],
            search_results=search_results(self._sources) if with_sources else None,
            citations=citation_urls(self._sources) if with_sources else None,
        )

    def _usage_chunk(self, done: DoneEvent) -> ChatCompletionChunk:
        return ChatCompletionChunk(id=self.id, created=self.created, choices=[], usage=done.usage)


def build_completion(events: Sequence[Event], *, created: int) -> ChatCompletion:
    """One ``chat.completion`` from a whole event stream that ended with ``done``."""
    meta = next((e for e in events if isinstance(e, MetaEvent)), None)
    sources = next((e.sources for e in events if isinstance(e, SourcesEvent)), [])
    done = events[-1]
    if not isinstance(done, DoneEvent):
        raise ValueError("the event stream did not end with done")
    message = CompletionMessage(
        content=done.answer,
        reasoning_content=done.reasoning,
        annotations=[annotation(e) for e in events if isinstance(e, CitationEvent)],
    )
    return ChatCompletion(
        id=completion_id(meta.request_id if meta else None),
        created=created,
        choices=[CompletionChoice(message=message)],
        usage=done.usage,
        search_results=search_results(sources),
        citations=citation_urls(sources),
        search=done.search,
        flags=list(done.flags),
    )
