"""Event stream -> OpenAI chunks: what an OpenAI client assembles from them."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from searchqa.api.openai_models import ChatCompletionChunk, ErrorResponse
from searchqa.api.openai_stream import ChunkTranslator, build_completion, sse_line
from searchqa.errors import http_status_for
from searchqa.events import (
    DoneEvent,
    ErrorEvent,
    Event,
    MetaEvent,
    ReasoningEvent,
    Source,
    SourcesEvent,
    StatusEvent,
    Timings,
    Usage,
)
from searchqa.steps.cite import CitationParser

SOURCES = [
    Source(index=i, url=f"https://example.org/{i}", title=f"Page {i}", site="example.org",
           snippet=f"snippet {i}", published="2025-01-01" if i == 1 else None)
    for i in (1, 2, 3)
]  # fmt: skip
MODEL_ANSWER = (
    "巴黎是法国的首都[citation:1]。🇫🇷 Café crème, naïve 😀 façade [citation:2]; "
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 [citation:3, 1] fin."
)
USAGE = Usage(prompt_tokens=100, completion_tokens=20, total_tokens=120)


def answer_events(model_output: str, piece: int) -> list[Event]:
    """The event stream of one answer, the model's output arriving ``piece`` chars at a time."""
    parser = CitationParser(SOURCES)
    events: list[Event] = [
        MetaEvent(request_id="req42", query="q", language="zh", template="zh", date="d", model="m"),
        StatusEvent(stage="search"),
        SourcesEvent(sources=SOURCES),
        ReasoningEvent(text="Let me think. "),
        ReasoningEvent(text="Done."),
    ]
    for start in range(0, len(model_output), piece):
        events += parser.feed(model_output[start : start + piece])
    events += parser.flush()
    events.append(
        DoneEvent(answer=parser.answer, reasoning="Let me think. Done.", cited=parser.cited,
                  usage=USAGE, timings=Timings())
    )  # fmt: skip
    return events


def translate(events: list[Event], *, include_usage: bool = False) -> list[dict[str, Any]]:
    """What goes on the wire, decoded as a client decodes it."""
    translator = ChunkTranslator(created=1700000000, include_usage=include_usage)
    lines = [sse_line(p) for e in events for p in translator.translate(e)]
    assert all(line.startswith(b"data: ") and line.endswith(b"\n\n") for line in lines)
    return [json.loads(line[len(b"data: ") :]) for line in lines]


def deltas(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c["choices"][0]["delta"] for c in chunks if c["choices"]]


@pytest.mark.parametrize("piece", [1, 3, 7, 1000])
def test_annotations_span_the_citations_in_the_assembled_content(piece: int) -> None:
    chunks = translate(answer_events(MODEL_ANSWER, piece))
    content = "".join(str(d.get("content") or "") for d in deltas(chunks))
    spans = [a["url_citation"] for d in deltas(chunks) for a in d.get("annotations") or []]
    assert content.startswith("巴黎是法国的首都[1]。🇫🇷 Café")
    assert [s["start_index"] for s in spans] == [m.start() for m in re.finditer(r"\[\d\]", content)]
    assert spans[0]["start_index"] == content.index("[1]")
    assert spans[1]["start_index"] == content.index("[2]")
    assert spans[2]["start_index"] == content.index("[3]")
    labels = [content[s["start_index"] : s["end_index"]] for s in spans]
    assert labels == ["[1]", "[2]", "[3]", "[1]"]
    assert [s["url"] for s in spans] == [SOURCES[i - 1].url for i in (1, 2, 3, 1)]
    assert spans[1]["title"] == "Page 2"


def test_first_chunk_waits_for_the_sources_and_carries_them() -> None:
    chunks = translate(answer_events("Paris [citation:1].", 1000))
    first = chunks[0]
    assert first["id"] == "chatcmpl-req42"
    assert first["object"] == "chat.completion.chunk"
    assert first["model"] == "searchqa"
    assert first["choices"] == [
        {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
    ]
    assert first["citations"] == [s.url for s in SOURCES]
    assert first["search_results"] == [
        {"title": "Page 1", "url": "https://example.org/1", "date": "2025-01-01",
         "snippet": "snippet 1"},
        {"title": "Page 2", "url": "https://example.org/2", "date": None, "snippet": "snippet 2"},
        {"title": "Page 3", "url": "https://example.org/3", "date": None, "snippet": "snippet 3"},
    ]  # fmt: skip
    middle = chunks[1:-1]
    assert all("search_results" not in c and "citations" not in c for c in middle)
    assert list(deltas(middle))[:2] == [
        {"reasoning_content": "Let me think. "},
        {"reasoning_content": "Done."},
    ]


def test_last_chunk_stops_and_repeats_the_sources_usage_only_when_asked() -> None:
    without = translate(answer_events("Paris.", 1000))
    assert without[-1]["choices"] == [{"index": 0, "delta": {}, "finish_reason": "stop"}]
    assert without[-1]["citations"] == [s.url for s in SOURCES]
    assert all("usage" not in c for c in without)

    with_usage = translate(answer_events("Paris.", 1000), include_usage=True)
    assert with_usage[:-1] == without
    assert with_usage[-1]["choices"] == []
    assert with_usage[-1]["usage"] == {
        "prompt_tokens": 100,
        "completion_tokens": 20,
        "total_tokens": 120,
    }


def test_an_error_event_becomes_an_openai_error_and_ends_the_translation() -> None:
    translator = ChunkTranslator(created=0)
    events = answer_events("Paris", 1000)[:6]
    error = ErrorEvent(code="llm_stream_error", message="overloaded", retryable=True,
                       service="llm")  # fmt: skip
    payloads = [p for e in [*events, error] for p in translator.translate(e)]
    assert isinstance(payloads[-1], ErrorResponse)
    assert json.loads(payloads[-1].model_dump_json()) == {
        "error": {"message": "overloaded", "type": "server_error", "param": None,
                  "code": "llm_stream_error"}
    }  # fmt: skip
    assert translator.finished
    assert all(isinstance(p, ChatCompletionChunk) for p in payloads[:-1])


@pytest.mark.parametrize(
    ("retryable", "service", "status"),
    [(True, "search", 503), (False, "llm", 502), (False, None, 500)],
)
def test_error_status_says_whether_to_retry(
    retryable: bool, service: str | None, status: int
) -> None:
    event = ErrorEvent(code="x", message="m", retryable=retryable, service=service)
    assert http_status_for(event) == status


def test_a_stream_without_sources_still_starts_with_the_role() -> None:
    done = DoneEvent(answer="Hi", reasoning="", cited=[], usage=USAGE, timings=Timings())
    chunks = translate([done])
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[0]["citations"] == []
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_completion_gathers_the_whole_answer() -> None:
    events = answer_events(MODEL_ANSWER, 5)
    completion = build_completion(events, created=1700000000)
    data = json.loads(completion.model_dump_json())
    message = data["choices"][0]["message"]
    content = message["content"]
    assert content == events[-1].answer  # type: ignore[union-attr]  # the last event is done
    assert message["reasoning_content"] == "Let me think. Done."
    assert [
        content[a["url_citation"]["start_index"] : a["url_citation"]["end_index"]]
        for a in message["annotations"]
    ] == ["[1]", "[2]", "[3]", "[1]"]
    assert message["annotations"][1]["url_citation"]["start_index"] == content.index("[2]")
    assert data["id"] == "chatcmpl-req42"
    assert data["object"] == "chat.completion"
    assert data["choices"][0]["finish_reason"] == "stop"
    assert data["citations"] == [s.url for s in SOURCES]
    assert data["usage"]["total_tokens"] == 120
