"""answer() in process: cancellation tears everything down; citations map to real sources."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from dataclasses import dataclass

import pytest

from searchqa.answer import answer
from searchqa.errors import InvalidRequestError
from searchqa.events import AnswerEvent, CitationEvent, DoneEvent, Event, StatusEvent
from searchqa.kit import AnswerKit
from searchqa.protocols import Turn
from searchqa.settings import FetchSettings, LLMSettings, SearchSettings, Settings
from tests.fakes.searxng import FakeSearxng, searx_result
from tests.fakes.server import BackgroundServer, serve
from tests.fakes.sglang import FakeSGLang
from tests.fakes.web import fake_web_app


@dataclass
class Servers:
    web: BackgroundServer
    searx: FakeSearxng
    llm: FakeSGLang
    settings: Settings


@pytest.fixture
def servers() -> Iterator[Servers]:
    searx, llm = FakeSearxng(), FakeSGLang()
    with (
        serve(fake_web_app()) as web,
        serve(searx.app()) as searx_server,
        serve(llm.app()) as llm_server,
    ):
        searx.results = [searx_result(f"{web.url}/pages/english", "Gardens", "cool")]
        settings = Settings(
            llm=LLMSettings(base_url=f"{llm_server.url}/v1"),
            search=SearchSettings(engines=["searxng"], searxng_url=searx_server.url),
            fetch=FetchSettings(allow_hosts=["127.0.0.1"], deadline_s=5, extract_workers=1),
        )
        yield Servers(web, searx, llm, settings)


@pytest.fixture
async def kit(servers: Servers) -> AsyncIterator[AnswerKit]:
    async with AnswerKit.from_settings(servers.settings) as kit:
        yield kit


async def _other_tasks() -> set[asyncio.Task[object]]:
    await asyncio.sleep(0.05)
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


async def test_closing_the_stream_mid_answer_closes_the_model_request(
    servers: Servers, kit: AnswerKit
) -> None:
    servers.llm.token_delay_s = 0.05
    servers.llm.answer = "A long answer " * 200
    events = answer("How do gardens cool cities?", kit=kit)
    async with aclosing(events):
        async for event in events:
            if isinstance(event, AnswerEvent):
                break
    async with asyncio.timeout(2):
        await servers.llm.wait_for_disconnect()
    assert servers.llm.completed == 0
    assert not await _other_tasks()


async def test_cancelling_during_fetch_abandons_every_page(
    servers: Servers, kit: AnswerKit
) -> None:
    servers.searx.results = [
        searx_result(f"{servers.web.url}/hang", "Hang", "h"),
        searx_result(f"{servers.web.url}/slow/english?delay=30", "Slow", "s", position=2),
    ]
    seen: list[Event] = []

    async def consume() -> None:
        async for event in answer("Gardens?", kit=kit):
            seen.append(event)

    task = asyncio.create_task(consume())
    while not any(isinstance(e, StatusEvent) and e.stage == "fetch" for e in seen):  # noqa: ASYNC110 (another task fills seen)
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not await _other_tasks()
    assert servers.llm.requests == [r for r in servers.llm.requests if "models" in r.path]


async def test_citations_point_at_the_sources_of_the_prompt(
    servers: Servers, kit: AnswerKit
) -> None:
    servers.llm.answer = "Shade cools [citation:1]; [citation:7] is not a source [citation: 1, 2]."
    events = [event async for event in answer("Gardens?", kit=kit)]
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert done.answer == "Shade cools [1];  is not a source [1]."
    citations = [e for e in events if isinstance(e, CitationEvent)]
    assert [c.index for c in citations] == [1, 1]
    assert all(c.url == f"{servers.web.url}/pages/english" for c in citations)


async def test_invalid_question_is_refused_before_any_event(kit: AnswerKit) -> None:
    with pytest.raises(InvalidRequestError):
        await anext(answer("", kit=kit))


async def test_follow_up_turns_reach_the_model_before_the_prompt(
    servers: Servers, kit: AnswerKit
) -> None:
    history = [
        Turn(role="user", content="What cools a city block?"),
        Turn(role="assistant", content="Trees and gardens [1]."),
    ]
    events = [e async for e in answer("And how much?", kit=kit, history=history)]
    assert isinstance(events[-1], DoneEvent)
    (request,) = [r for r in servers.llm.requests if r.path.endswith("/chat/completions")]
    messages = request.body["messages"]
    assert messages[:2] == [
        {"role": "user", "content": "What cools a city block?"},
        {"role": "assistant", "content": "Trees and gardens [1]."},
    ]
    assert messages[2]["role"] == "user"
    assert messages[2]["content"].endswith("# The user's message is:\nAnd how much?")
    assert all(m["role"] != "system" for m in messages)
