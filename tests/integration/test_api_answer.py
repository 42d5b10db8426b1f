"""The answer API through the real app: SSE framing, JSON mode, cache, files, problem details."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from searchqa.api.app import create_app
from searchqa.events import (
    AnswerEvent,
    CitationEvent,
    DoneEvent,
    ErrorEvent,
    MetaEvent,
    ReasoningEvent,
    SourcesEvent,
    StatusEvent,
)
from tests.fakes.documents import tiny_pdf
from tests.integration.api_support import World, events_of, local_world, parse_frames

Client = AsyncTestClient[Litestar]
QUESTION = "How do community gardens cool cities?"
ORDER = re.compile(r"^MS*R(S|T)*(S|A|C)*D$")
LETTER = {MetaEvent: "M", StatusEvent: "S", SourcesEvent: "R", ReasoningEvent: "T",
          AnswerEvent: "A", CitationEvent: "C", DoneEvent: "D", ErrorEvent: "E"}  # fmt: skip


@pytest.fixture
def world() -> Iterator[World]:
    with local_world(max_upload_bytes=4096) as world:
        yield world


@pytest.fixture
async def client(world: World) -> AsyncIterator[Client]:
    async with AsyncTestClient(create_app(world.settings)) as client:
        yield client


def assert_problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["type"]
    if code is not None:
        assert body["code"] == code, body
    return body


async def test_sse_frames_every_event_in_order(client: Client, world: World) -> None:
    response = await client.post("/v1/answer", json={"query": QUESTION})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    frames = parse_frames(response.text)
    events = events_of(frames)
    assert ORDER.match("".join(LETTER[type(e)] for e in events))
    meta = events[0]
    assert isinstance(meta, MetaEvent)
    request_id = meta.request_id
    assert [f.id for f in frames] == [f"{request_id}-{n}" for n in range(1, len(frames) + 1)]
    assert all(f.event == e.type for f, e in zip(frames, events, strict=True))
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert done.answer == "The capital of France is Paris [1][2]."
    assert "".join(e.text for e in events if isinstance(e, AnswerEvent)) == done.answer
    assert not done.cached
    assert world.chat_requests() == 1


@pytest.mark.parametrize(
    ("body", "headers"),
    [({"stream": False}, {}), ({}, {"Accept": "application/json"})],
    ids=["stream-false", "accept-json"],
)
async def test_json_mode_returns_one_document(
    client: Client, world: World, body: dict[str, Any], headers: dict[str, str]
) -> None:
    response = await client.post("/v1/answer", json={"query": QUESTION} | body, headers=headers)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    doc = response.json()
    assert doc["status"] == "done"
    assert doc["answer"] == "The capital of France is Paris [1][2]."
    assert doc["reasoning"].startswith("Okay, the user asks")
    assert [s["url"] for s in doc["sources"]] == [f"{world.web.url}/notes.txt",
                                                  f"{world.web.url}/readme.md"]  # fmt: skip
    assert [(c["index"], c["offset"]) for c in doc["citations"]] == [(1, 31), (2, 34)]
    assert doc["usage"]["completion_tokens"] > 0
    assert doc["timings"]["total_ms"] > 0
    assert doc["flags"] == []
    assert doc["cached"] is False
    assert re.fullmatch(r"[0-9a-f]{32}", doc["request_id"])


async def test_get_answer_streams_for_eventsource(client: Client) -> None:
    response = await client.get("/v1/answer", params={"q": QUESTION, "max_sources": 1})

    assert response.status_code == 200
    events = events_of(parse_frames(response.text))
    (sources,) = [e for e in events if isinstance(e, SourcesEvent)]
    assert len(sources.sources) == 1
    assert isinstance(events[-1], DoneEvent)


async def test_unknown_field_is_refused_with_problem_details(client: Client, world: World) -> None:
    response = await client.post("/v1/answer", json={"query": QUESTION, "temprature": 0.6})

    body = assert_problem(response, 422, "validation_failed")
    assert [e["key"] for e in body["errors"]] == ["temprature"]
    assert world.chat_requests() == 0


@pytest.mark.parametrize(
    ("method", "path", "payload", "status", "code"),
    [
        ("GET", "/v1/nowhere", None, 404, "not_found"),
        ("PUT", "/v1/answer", None, 405, "method_not_allowed"),
        ("POST", "/v1/answer", {"query": "   "}, 400, "empty_query"),
        ("POST", "/v1/answer", {"query": QUESTION, "max_sources": 30}, 422, "validation_failed"),
        ("POST", "/v1/answer", {"query": "x" * 2001}, 422, "validation_failed"),
        ("POST", "/v1/answer", {"query": QUESTION, "engines": ["bing"]}, 422, "unknown_engine"),
        ("POST", "/v1/answer", {"query": QUESTION,
                                "history": [{"role": "user", "content": "hi"}] * 21}, 422, None),
        ("POST", "/v1/answer", {"query": QUESTION,
                                "history": [{"role": "system", "content": "x"}]}, 422, None),
        ("GET", "/v1/answer", None, 422, "invalid_request"),
        ("GET", "/v1/answers/0123abcd", None, 404, "unknown_answer"),
        ("GET", "/v1/answers/0123abcd/events", None, 404, "unknown_answer"),
        ("DELETE", "/v1/answers/0123abcd", None, 404, "unknown_answer"),
    ],
)  # fmt: skip
async def test_refusals_are_problem_details(
    client: Client, method: str, path: str, payload: Any, status: int, code: str | None
) -> None:
    response = await client.request(method, path, json=payload)
    body = assert_problem(response, status, code)
    assert body["instance"] == path


async def test_malformed_json_is_a_problem(client: Client) -> None:
    response = await client.post(
        "/v1/answer", content=b"{query", headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 400)


async def test_a_repeated_question_replays_the_same_events_with_cached_true(
    client: Client, world: World
) -> None:
    first = events_of(
        parse_frames((await client.post("/v1/answer", json={"query": QUESTION})).text)
    )
    again = await client.post(
        "/v1/answer", json={"query": "  how do community gardens COOL cities"}
    )
    second = events_of(parse_frames(again.text))

    assert world.chat_requests() == 1
    assert [e.type for e in second] == [e.type for e in first]
    meta1, meta2 = first[0], second[0]
    assert isinstance(meta1, MetaEvent)
    assert isinstance(meta2, MetaEvent)
    assert meta2.request_id != meta1.request_id
    assert meta2.model_copy(update={"request_id": meta1.request_id}) == meta1
    assert second[1:-1] == first[1:-1]
    done1, done2 = first[-1], second[-1]
    assert isinstance(done1, DoneEvent)
    assert isinstance(done2, DoneEvent)
    assert done2.cached
    assert not done1.cached
    assert done2.model_copy(update={"cached": False}) == done1
    assert all(f.id and f.id.startswith(meta2.request_id) for f in parse_frames(again.text))


@pytest.mark.parametrize(
    "options",
    [{"no_cache": True}, {"history": [{"role": "user", "content": "Hi"},
                                      {"role": "assistant", "content": "Hello"}]}],
    ids=["no_cache", "history"],
)  # fmt: skip
async def test_no_cache_and_history_generate_afresh(
    client: Client, world: World, options: dict[str, Any]
) -> None:
    await client.post("/v1/answer", json={"query": QUESTION})
    response = await client.post("/v1/answer", json={"query": QUESTION, "stream": False} | options)

    assert response.json()["cached"] is False
    assert world.chat_requests() == 2


async def test_unreachable_model_is_a_problem_before_any_stream(world: World) -> None:
    world.settings.llm.base_url = "http://127.0.0.1:9/v1"
    async with AsyncTestClient(create_app(world.settings)) as client:
        response = await client.post("/v1/answer", json={"query": QUESTION})
        body = assert_problem(response, 502)
        assert body["service"] == "llm"
        assert body["retryable"] is True

        ready = await client.get("/readyz")
        checks = assert_problem(ready, 503, "not_ready")["checks"]
        assert checks["llm"]["ok"] is False
        assert checks["search"]["ok"] is True


async def test_ready_when_state_model_and_search_are_usable(client: Client, world: World) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    checks = ready.json()["checks"]
    assert checks["llm"] == {"ok": True, "model": world.llm.model}
    assert checks["state"]["ok"]
    assert checks["state"]["kind"] == "memory"

    world.searx.status = 500  # one server error on one question: the engine stays in use
    await client.post("/v1/answer", json={"query": "Anything new?", "stream": False})
    ready = await client.get("/readyz")
    assert ready.json()["status"] == "ready"
    [engine] = ready.json()["checks"]["search"]["engines"]
    assert (engine["name"], engine["state"]) == ("searxng", "closed")
    assert engine["consecutive_failures"] == 1

    for question in ("Anything else?", "And now?"):  # three in a row: its circuit opens
        await client.post("/v1/answer", json={"query": question, "stream": False})
    body = assert_problem(await client.get("/readyz"), 503, "not_ready")
    assert body["checks"]["search"]["ok"] is False
    [engine] = body["checks"]["search"]["engines"]
    assert engine["state"] == "open"
    assert engine["last_error"] == "searxng answered HTTP 500"


def _prompt(world: World) -> str:
    chats = [r for r in world.llm.requests if r.path.endswith("/chat/completions")]
    content: str = chats[-1].body["messages"][0]["content"]
    return content


@pytest.mark.parametrize(
    ("name", "content_type", "raw", "text"),
    [
        ("keeper.pdf", "application/pdf", tiny_pdf("The keeper is Ada Moreau."),
         "The keeper is Ada Moreau."),
        ("notes.md", "application/octet-stream", b"# Notes\n\nThe keeper is *Ada*.", "*Ada*"),
    ],
)  # fmt: skip
async def test_file_answer_reads_the_file_into_the_file_template(
    client: Client, world: World, name: str, content_type: str, raw: bytes, text: str
) -> None:
    response = await client.post(
        "/v1/files/answer",
        files={"file": (name, raw, content_type)},
        data={"question": "Who is the keeper?", "stream": "false"},
    )

    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["status"] == "done"
    assert [(s["index"], s["title"]) for s in doc["sources"]] == [(1, name)]
    prompt = _prompt(world)
    assert text in prompt
    assert f"[file name]: {name}" in prompt
    assert world.searx.requests == []


@pytest.mark.parametrize(
    ("size", "code"), [(4097, "file_too_large"), (2 * 1024 * 1024, None)], ids=["file", "body"]
)
async def test_oversized_files_are_refused_with_413(
    client: Client, world: World, size: int, code: str | None
) -> None:
    response = await client.post(
        "/v1/files/answer",
        files={"file": ("big.txt", b"a" * size, "text/plain")},
        data={"question": "What is in it?"},
    )
    assert_problem(response, 413, code)
    assert world.chat_requests() == 0


@pytest.mark.parametrize(
    ("name", "content_type", "raw"),
    [
        ("photo.png", "image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64),
        ("fake.pdf", "application/pdf", b"not a pdf at all"),
        ("data.txt", "text/plain", b"binary\x00\x01\x02"),
    ],
)
async def test_unsupported_files_are_refused_with_415(
    client: Client, name: str, content_type: str, raw: bytes
) -> None:
    response = await client.post(
        "/v1/files/answer",
        files={"file": (name, raw, content_type)},
        data={"question": "What is in it?"},
    )
    assert_problem(response, 415, "unsupported_type")


async def test_file_answer_needs_a_file_and_a_question(client: Client) -> None:
    response = await client.post("/v1/files/answer", files={"question": (None, "What?")})
    assert_problem(response, 422, "validation_failed")


async def test_the_openai_facade_answers_through_the_same_sessions(
    client: Client, world: World
) -> None:
    await client.post("/v1/answer", json={"query": QUESTION, "stream": False})
    response = await client.post(
        "/v1/chat/completions",
        json={"model": "searchqa", "messages": [{"role": "user", "content": QUESTION}]},
    )

    assert response.status_code == 200, response.text
    message = response.json()["choices"][0]["message"]
    assert message["content"] == "The capital of France is Paris [1][2]."
    assert world.chat_requests() == 1  # replayed from the answer cache
