"""What reaches the engines and what the stream says about it: the searched query after
earlier turns, the search language, and a chain that fell back (answer(), the JSON document,
the OpenAI route and /readyz), against fake SearXNG and SGLang and a real local index."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from searchqa.answer import answer
from searchqa.api.app import create_app
from searchqa.events import DoneEvent, EngineFailure, Event, MetaEvent, StatusEvent
from searchqa.index.build import index_sources
from searchqa.kit import AnswerKit
from searchqa.protocols import Turn
from searchqa.settings import (
    FetchSettings,
    IndexSettings,
    LLMSettings,
    SearchSettings,
    Settings,
)
from tests.fakes.searxng import FakeSearxng, searx_result
from tests.fakes.server import BackgroundServer, serve
from tests.fakes.sglang import FakeSGLang
from tests.fakes.web import fake_web_app

HISTORY = [
    Turn("user", "What is Redis?"),
    Turn("assistant", "Redis is an in-memory key-value store [1]."),
]
REDIS_DOC = (
    "# Redis\n\nRedis is an in-memory data store created by Salvatore Sanfilippo in 2009. "
    "It keeps keys and values in memory and writes them to disk now and then.\n"
)


@dataclass
class World:
    web: BackgroundServer
    searx: FakeSearxng
    llm: FakeSGLang
    settings: Settings


def _settings(searx_url: str, llm_url: str, index: Path, **search: Any) -> Settings:
    return Settings(
        llm=LLMSettings(base_url=f"{llm_url}/v1"),
        search=SearchSettings(searxng_url=searx_url, **{"engines": ["searxng"]} | search),
        fetch=FetchSettings(allow_hosts=["127.0.0.1"], deadline_s=5, extract_workers=1),
        index=IndexSettings(path=index),
    )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    searx, llm = FakeSearxng(), FakeSGLang()
    with (
        serve(fake_web_app()) as web,
        serve(searx.app()) as searx_server,
        serve(llm.app()) as llm_server,
    ):
        searx.results = [searx_result(f"{web.url}/notes.txt", "Notes", "About Redis.")]
        settings = _settings(searx_server.url, llm_server.url, tmp_path / "index.sqlite3")
        yield World(web, searx, llm, settings)


@pytest.fixture
async def kit(world: World) -> AsyncIterator[AnswerKit]:
    async with AnswerKit.from_settings(world.settings) as kit:
        yield kit


async def collect(question: str, kit: AnswerKit, history: list[Turn] | None = None) -> list[Event]:
    return [event async for event in answer(question, kit=kit, history=history or [])]


def brief_requests(llm: FakeSGLang) -> list[dict[str, Any]]:
    return [
        r.body for r in llm.requests if r.path.endswith("/completions") and not r.body["stream"]
    ]


def search_status(events: list[Event]) -> StatusEvent:
    [status] = [e for e in events if isinstance(e, StatusEvent) and e.stage == "search"]
    return status


def done_of(events: list[Event]) -> DoneEvent:
    done = events[-1]
    assert isinstance(done, DoneEvent), done
    return done


# --- the searched query ----------------------------------------------------------------------


async def test_a_question_without_history_is_searched_as_asked_and_asks_no_model(
    world: World, kit: AnswerKit
) -> None:
    events = await collect("What is Redis?", kit)

    assert [r["q"] for r in world.searx.requests] == ["What is Redis?"]
    assert search_status(events).query == "What is Redis?"
    assert brief_requests(world.llm) == []
    done = done_of(events)
    assert done.search is not None
    assert (done.search.query, done.search.engine, done.search.failed) == (
        "What is Redis?", "searxng", [],
    )  # fmt: skip
    assert "search_degraded" not in done.flags


async def test_a_follow_up_is_searched_as_the_models_standalone_rewrite(
    world: World, kit: AnswerKit
) -> None:
    world.llm.brief_responder = lambda prompt: "Who created Redis\nignored second line"

    events = await collect("who created it?", kit, HISTORY)

    assert world.searx.requests[-1]["q"] == "Who created Redis"
    assert search_status(events).query == "Who created Redis"
    assert done_of(events).search is not None
    [request] = brief_requests(world.llm)
    assert request["prompt"].endswith("<｜Assistant｜><think>\n\n</think>\n\n")
    assert "User: What is Redis?" in request["prompt"]
    assert "User: who created it?" in request["prompt"]
    assert request["max_tokens"] == 48
    assert request["stop"] == ["\n"]
    assert request["model"] == world.llm.model
    # The answer itself still sees the follow-up as asked, after the earlier turns.
    [chat] = [r.body for r in world.llm.requests if r.path.endswith("/chat/completions")]
    assert chat["messages"][0] == {"role": "user", "content": "What is Redis?"}
    assert "who created it?" in chat["messages"][-1]["content"]


@pytest.mark.parametrize(
    "failure",
    ["slow", "http_500", "cut_off", "empty"],
)
async def test_a_rewrite_that_fails_falls_back_to_the_rule(
    world: World, tmp_path: Path, failure: str
) -> None:
    world.settings.search.rewrite_timeout_s = 0.3
    if failure == "slow":
        world.llm.brief_delay_s = 2.0
    elif failure == "http_500":
        world.llm.brief_status = 500
    elif failure == "cut_off":
        world.llm.brief_responder = lambda prompt: "Redis " * 100
    else:
        world.llm.brief_responder = lambda prompt: "   "
    async with AnswerKit.from_settings(world.settings) as kit:
        events = await collect("who created it?", kit, HISTORY)

    assert world.searx.requests[-1]["q"] == "who created Redis?"
    assert search_status(events).query == "who created Redis?"
    assert len(brief_requests(world.llm)) == 1
    assert isinstance(events[-1], DoneEvent)


async def test_rewrite_rule_asks_no_model_and_off_searches_the_follow_up(world: World) -> None:
    for mode, expected in [("rule", "who created Redis?"), ("off", "who created it?")]:
        world.settings.search.rewrite = mode  # type: ignore[assignment]
        async with AnswerKit.from_settings(world.settings) as kit:
            events = await collect("who created it?", kit, HISTORY)
        assert world.searx.requests[-1]["q"] == expected
        assert search_status(events).query == expected
    assert brief_requests(world.llm) == []


async def test_a_change_of_topic_carries_no_earlier_terms(world: World) -> None:
    world.settings.search.rewrite = "rule"
    async with AnswerKit.from_settings(world.settings) as kit:
        await collect("How tall is Mount Everest?", kit, HISTORY)
    assert world.searx.requests[-1]["q"] == "How tall is Mount Everest?"


# --- the search language ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "tag"),
    [
        ("Wie funktioniert die Steuererklärung in Deutschland?", "de"),
        ("comment faire une quiche lorraine", "fr"),
        ("東京 ラーメン おすすめ", "ja"),
        ("台北美食推薦", "zh-TW"),
        ("北京烤鸭哪家好吃", "zh-CN"),
        ("What is Redis?", "en"),
    ],
)
async def test_the_search_language_reaches_searxng_and_meta(
    world: World, kit: AnswerKit, question: str, tag: str
) -> None:
    events = await collect(question, kit)

    meta = events[0]
    assert isinstance(meta, MetaEvent)
    assert meta.search_language == tag
    assert meta.language == ("zh" if tag.startswith("zh") else "en")  # the template rule stays
    assert world.searx.requests[-1]["language"] == tag


# --- a chain that fell back ------------------------------------------------------------------


@pytest.fixture
async def fallback_kit(world: World, tmp_path: Path) -> AsyncIterator[AnswerKit]:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "redis.md").write_text(REDIS_DOC, encoding="utf-8")
    world.settings.search.engines = ["searxng", "local"]
    report = await index_sources([str(docs)], settings=world.settings)
    assert report.added == 1
    world.searx.status = 502
    async with AnswerKit.from_settings(world.settings) as kit:
        yield kit


async def test_a_fallback_is_flagged_and_says_which_engine_failed_and_why(
    world: World, fallback_kit: AnswerKit
) -> None:
    done = done_of(await collect("Who created Redis?", fallback_kit))

    assert "search_degraded" in done.flags
    assert done.search is not None
    assert done.search.engine == "local"
    assert done.search.failed == [
        EngineFailure(engine="searxng", reason="searxng answered HTTP 502")
    ]


async def test_an_open_circuit_is_reported_as_skipped(
    world: World, fallback_kit: AnswerKit
) -> None:
    for _ in range(3):
        await collect("Who created Redis?", fallback_kit)
    asked = len(world.searx.requests)

    done = done_of(await collect("When was Redis created?", fallback_kit))

    assert len(world.searx.requests) == asked  # skipped, not asked
    assert done.search is not None
    [failure] = done.search.failed
    assert failure.engine == "searxng"
    assert failure.reason.startswith("circuit open (")
    assert "search_degraded" in done.flags


async def test_the_api_document_the_openai_route_and_readyz_tell_of_the_fallback(
    world: World, fallback_kit: AnswerKit
) -> None:
    async with AsyncTestClient[Litestar](create_app(world.settings)) as client:
        ready = (await client.get("/readyz")).json()
        assert ready["status"] == "ready"
        for _ in range(3):  # searxng fails three times in a row: its circuit opens
            document = (
                await client.post(
                    "/v1/answer",
                    json={"query": "Who created Redis?", "no_cache": True, "stream": False},
                )
            ).json()
        assert document["status"] == "done"
        assert "search_degraded" in document["flags"]
        assert document["search"]["engine"] == "local"
        assert document["search"]["failed"][0]["engine"] == "searxng"
        assert document["search_language"] == "en"

        completion = (
            await client.post(
                "/v1/chat/completions",
                json={"model": "searchqa", "messages": [{"role": "user", "content": "Redis?"}]},
            )
        ).json()
        assert "search_degraded" in completion["flags"]
        assert completion["search"]["engine"] == "local"
        assert completion["search"]["failed"][0]["reason"].startswith("circuit open")

        response = await client.get("/readyz")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "degraded"
        search = body["checks"]["search"]
        assert (search["ok"], search["degraded"]) == (True, True)
        assert [(e["name"], e["state"]) for e in search["engines"]] == [
            ("searxng", "open"),
            ("local", "closed"),
        ]
        assert search["engines"][0]["last_error"] == "searxng answered HTTP 502"
