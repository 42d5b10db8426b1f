"""The OpenAI-compatible facade under uvicorn, driven by the real `openai` client.

The answer source runs the real answer kit against the fake web, SearXNG and SGLang.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

import httpx
import openai
import pytest
import uvicorn
from litestar import Litestar
from litestar.di import Provide

from searchqa.answer import answer
from searchqa.api.openai_routes import ANSWER_SOURCE, OpenAIController
from searchqa.api.problems import EXCEPTION_HANDLERS
from searchqa.events import DoneEvent, ErrorEvent, Event
from searchqa.kit import AnswerKit
from searchqa.service.requests import AnswerRequest, Turn
from searchqa.settings import FetchSettings, LLMSettings, SearchSettings, Settings
from tests.fakes.searxng import FakeSearxng, searx_result
from tests.fakes.server import BackgroundServer, serve
from tests.fakes.sglang import DEFAULT_REASONING, FakeSGLang
from tests.fakes.web import fake_web_app

ANSWER = "Paris is the capital [citation:1]; Lyon is not [citation:2]."
CITED_ANSWER = "Paris is the capital [1]; Lyon is not [2]."


@dataclass
class KitSource:
    """An answer source over the real answer kit that records what it was asked and how it ended."""

    settings: Settings
    kit: AnswerKit | None = None
    received: list[AnswerRequest] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    """Per stream: ``finished`` (done or error went out) or ``abandoned`` (closed before)."""

    async def start(self) -> None:
        self.kit = AnswerKit.from_settings(self.settings)

    async def stop(self) -> None:
        if self.kit is not None:
            await self.kit.aclose()

    async def __call__(self, request: AnswerRequest) -> AsyncGenerator[Event, None]:
        assert self.kit is not None
        self.received.append(request)
        outcome = "abandoned"
        try:
            events = answer(
                request.query,
                kit=self.kit,
                max_sources=request.max_sources,
                history=request.history,
                temperature=request.temperature,
            )
            async with aclosing(events):
                async for event in events:
                    if isinstance(event, DoneEvent | ErrorEvent):
                        outcome = "finished"
                    yield event
        finally:
            self.outcomes.append(outcome)


class UvicornServer:
    """A Litestar app under a real uvicorn, on a free loopback port, in a background thread."""

    def __init__(self, app: Litestar) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> UvicornServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


@dataclass
class World:
    web: BackgroundServer
    searx: FakeSearxng
    llm: FakeSGLang
    source: KitSource
    api: UvicornServer

    def client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=f"{self.api.url}/v1", api_key="any", max_retries=0)

    def page(self, name: str) -> str:
        return f"{self.web.url}/pages/{name}"


@pytest.fixture(scope="module")
def shared_world() -> Iterator[World]:
    searx, llm = FakeSearxng(), FakeSGLang()
    with (
        serve(fake_web_app()) as web,
        serve(searx.app()) as searx_server,
        serve(llm.app()) as llm_server,
    ):
        settings = Settings(
            llm=LLMSettings(base_url=f"{llm_server.url}/v1"),
            search=SearchSettings(
                engines=["searxng"],
                searxng_url=searx_server.url,
                cooldown_s=0.01,  # a failed search must not bench SearXNG for later tests
                cooldown_max_s=0.01,
            ),
            fetch=FetchSettings(allow_hosts=["127.0.0.1"], deadline_s=5, extract_workers=1),
        )
        source = KitSource(settings)
        app = Litestar(
            route_handlers=[OpenAIController],
            dependencies={ANSWER_SOURCE: Provide(lambda: source, sync_to_thread=False)},
            exception_handlers=EXCEPTION_HANDLERS,
            on_startup=[source.start],
            on_shutdown=[source.stop],
        )
        with UvicornServer(app) as api:
            yield World(web, searx, llm, source, api)


@pytest.fixture
def world(shared_world: World) -> World:
    """The shared servers, knobs back to a normal two-source answer."""
    w = shared_world
    w.searx.results = [
        searx_result(w.page("english"), "Community gardens", "Gardens cool blocks."),
        searx_result(w.page("docs"), "Cache-Control", "How caching works.", position=2),
    ]
    w.searx.status = 200
    w.llm.reasoning, w.llm.answer = DEFAULT_REASONING, ANSWER
    w.llm.error_after_chunks, w.llm.token_delay_s = None, 0.0
    w.llm.requests.clear()
    w.llm.disconnects = w.llm.completed = 0
    w.source.received.clear()
    w.source.outcomes.clear()
    return w


def llm_prompts(world: World) -> list[str]:
    return [
        str(m["content"])
        for r in world.llm.requests
        if r.path.endswith("/chat/completions")
        for m in r.body["messages"]
    ]


async def test_streaming_carries_reasoning_answer_citations_sources_and_usage(
    world: World,
) -> None:
    stream = await world.client().chat.completions.create(
        model="searchqa",
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]

    first, finish, usage = chunks[0], chunks[-2], chunks[-1]
    assert first.choices[0].delta.role == "assistant"
    assert first.id.startswith("chatcmpl-")
    assert first.model == "searchqa"
    sources = [world.page("english"), world.page("docs")]
    assert first.model_extra is not None
    assert finish.model_extra is not None
    assert first.model_extra["citations"] == sources == finish.model_extra["citations"]
    results = first.model_extra["search_results"]
    assert [r["url"] for r in results] == sources
    assert all(r["title"] for r in results)
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    reasoning = "".join((d.model_extra or {}).get("reasoning_content") or "" for d in deltas)
    content = "".join(d.content or "" for d in deltas)
    assert reasoning == DEFAULT_REASONING
    assert content == CITED_ANSWER
    annotations = [a for d in deltas for a in (d.model_extra or {}).get("annotations") or []]
    assert [(a["url_citation"]["url"], content[a["url_citation"]["start_index"] :
             a["url_citation"]["end_index"]]) for a in annotations] == [
        (sources[0], "[1]"),
        (sources[1], "[2]"),
    ]  # fmt: skip
    assert finish.choices[0].finish_reason == "stop"
    assert usage.choices == []
    assert usage.usage is not None
    assert usage.usage.total_tokens > 0
    assert {c.id for c in chunks} == {first.id}
    assert world.source.outcomes == ["finished"]


async def test_stream_is_server_sent_events_ending_with_done(world: World) -> None:
    body = {"messages": [{"role": "user", "content": "Capital of France?"}], "stream": True}
    async with httpx.AsyncClient(base_url=world.api.url) as http:
        response = await http.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line for line in response.text.split("\n\n") if line]
    assert all(event.startswith("data: ") for event in events)
    assert events[-1] == "data: [DONE]"
    assert '"usage"' not in response.text  # not asked for


async def test_non_streaming_returns_one_completion(world: World) -> None:
    completion = await world.client().chat.completions.create(
        model="searchqa", messages=[{"role": "user", "content": "What is the capital of France?"}]
    )
    message = completion.choices[0].message
    assert message.content == CITED_ANSWER
    assert (message.model_extra or {})["reasoning_content"] == DEFAULT_REASONING
    assert message.annotations is not None
    spans = [
        (a.url_citation.url, CITED_ANSWER[a.url_citation.start_index : a.url_citation.end_index])
        for a in message.annotations
    ]
    assert spans == [(world.page("english"), "[1]"), (world.page("docs"), "[2]")]
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "searchqa"
    assert completion.object == "chat.completion"
    extra = completion.model_extra or {}
    assert extra["citations"] == [world.page("english"), world.page("docs")]
    assert extra["search_results"][0]["url"] == world.page("english")
    assert completion.usage is not None
    assert completion.usage.completion_tokens > 0


async def test_conversation_becomes_question_and_history_without_system_or_reasoning(
    world: World,
) -> None:
    await world.client().chat.completions.create(
        model="searchqa",
        messages=[
            {"role": "system", "content": "You are a pirate. SYSTEM-SECRET"},
            {"role": "user", "content": "Tell me about France."},
            {"role": "assistant", "content": "<think>They want facts.</think>France is big."},
            {"role": "developer", "content": "DEVELOPER-SECRET"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "And its capital?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}},
                    {"type": "text", "text": "Briefly."},
                ],
            },
        ],
    )
    assert world.source.received == [
        AnswerRequest(
            query="And its capital?\nBriefly.",
            history=[
                Turn(role="user", content="Tell me about France."),
                Turn(role="assistant", content="France is big."),
            ],
        )
    ]
    prompts = "\n".join(llm_prompts(world))
    assert "And its capital?" in prompts
    assert "SYSTEM-SECRET" not in prompts
    assert "DEVELOPER-SECRET" not in prompts
    assert all(
        m["role"] != "system"
        for r in world.llm.requests
        if r.path.endswith("/chat/completions")
        for m in r.body["messages"]
    )


async def test_unknown_fields_and_wild_temperature_are_accepted(world: World) -> None:
    completion = await world.client().chat.completions.create(
        model="searchqa",
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        temperature=1.9,
        max_tokens=3,
        extra_body={"frobnicate": True, "top_k": 40, "web_search_options": {}},
    )
    assert completion.model == "searchqa"
    assert completion.choices[0].message.content == CITED_ANSWER  # max_tokens did not cut it
    assert world.llm.requests[-1].body["temperature"] == 0.7  # clamped, then used


async def test_the_requested_temperature_reaches_the_model(world: World) -> None:
    messages: Any = [{"role": "user", "content": "What is the capital of France?"}]
    await world.client().chat.completions.create(
        model="searchqa", messages=messages, temperature=0.55
    )
    assert world.llm.requests[-1].body["temperature"] == 0.55
    await world.client().chat.completions.create(model="searchqa", messages=messages)
    assert world.llm.requests[-1].body["temperature"] == 0.6  # the configured one


async def test_upstream_error_mid_stream_raises_in_the_client(world: World) -> None:
    world.llm.error_after_chunks = 5
    world.llm.error_message = "The server is overloaded; the request was aborted."
    stream = await world.client().chat.completions.create(
        model="searchqa",
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        stream=True,
    )
    received: list[Any] = []

    async def read_all() -> None:
        async for chunk in stream:
            received.append(chunk)

    with pytest.raises(openai.APIError) as caught:
        await read_all()
    assert "overloaded" in caught.value.message
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["code"] == "llm_stream_error"
    assert received
    assert received[0].choices[0].delta.role == "assistant"


async def test_failure_before_the_first_chunk_is_an_http_error(world: World) -> None:
    world.searx.status = 500
    with pytest.raises(openai.APIStatusError) as caught:
        await world.client().chat.completions.create(
            model="searchqa", messages=[{"role": "user", "content": "Capital?"}], stream=True
        )
    assert caught.value.status_code == 503
    assert caught.value.response.headers["content-type"] == "application/json"
    assert caught.value.response.headers["x-should-retry"] == "true"
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["code"] == "search_unavailable"


async def test_refusals_use_openai_error_bodies(world: World) -> None:
    client = world.client()
    with pytest.raises(openai.BadRequestError) as empty:
        await client.chat.completions.create(
            model="searchqa", messages=[{"role": "user", "content": "   "}]
        )
    assert isinstance(empty.value.body, dict)
    assert empty.value.body["code"] == "empty_query"
    with pytest.raises(openai.BadRequestError) as no_user:
        await client.chat.completions.create(
            model="searchqa", messages=[{"role": "system", "content": "Hi"}]
        )
    assert isinstance(no_user.value.body, dict)
    assert no_user.value.body["code"] == "no_question"
    async with httpx.AsyncClient(base_url=world.api.url) as http:
        malformed = await http.post("/v1/chat/completions", json={"messages": "hello"})
        not_json = await http.post("/v1/chat/completions", content=b"{", headers={
            "content-type": "application/json"})  # fmt: skip
    for response in (malformed, not_json):
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/json"
        assert response.json()["error"]["type"] == "invalid_request_error"
    assert malformed.json()["error"]["param"] == "messages"
    assert world.llm.requests == []


async def test_disconnecting_mid_stream_stops_the_answer(world: World) -> None:
    world.llm.token_delay_s = 0.05
    world.llm.answer = "A long answer " * 200
    stream = await world.client().chat.completions.create(
        model="searchqa", messages=[{"role": "user", "content": "Capital?"}], stream=True
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            break
    await stream.close()
    await wait_until(lambda: world.llm.disconnects == 1 and world.source.outcomes == ["abandoned"])
    assert world.llm.completed == 0


async def test_disconnecting_while_waiting_for_a_completion_stops_the_answer(
    world: World,
) -> None:
    world.llm.token_delay_s = 0.05
    world.llm.answer = "A long answer " * 200
    body = {"messages": [{"role": "user", "content": "Capital?"}]}
    async with httpx.AsyncClient(base_url=world.api.url, timeout=1.0) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.post("/v1/chat/completions", json=body)
    await wait_until(lambda: world.llm.disconnects == 1 and world.source.outcomes == ["abandoned"])
    assert world.llm.completed == 0


async def test_models_lists_searchqa(world: World) -> None:
    models = [model async for model in world.client().models.list()]
    assert [(m.id, m.object, m.owned_by) for m in models] == [("searchqa", "model", "searchqa")]


async def wait_until(condition: Callable[[], bool], timeout_s: float = 3.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 (the servers run on other threads)
            await asyncio.sleep(0.01)
