"""Search and page caches: repeated searches and shared sources cost one request; Redis optional."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from searchqa.api.app import create_app
from searchqa.engines.cached import CachedSearchEngine, cache_engines
from searchqa.engines.local import LocalEngine
from searchqa.engines.searxng import SearxngEngine
from searchqa.errors import SearchError
from searchqa.events import DoneEvent
from searchqa.settings import (
    CacheSettings,
    FetchSettings,
    IndexSettings,
    LLMSettings,
    PromptSettings,
    RedisSettings,
    SearchSettings,
    ServerSettings,
    Settings,
)
from searchqa.state.memory import MemoryCache
from tests.fakes.redis import RedisServer
from tests.fakes.searxng import FakeSearxng, searx_result
from tests.fakes.server import serve
from tests.fakes.sglang import FakeSGLang
from tests.fakes.web import REQUEST_LOG, fake_web_app
from tests.integration.api_support import AppServer, events_of, iter_frames

QUESTION = "How do community gardens cool cities?"
OTHER_QUESTION = "Why do green roofs lower energy bills?"


def sample(text: str, name: str, **labels: str) -> float:
    """The value of the series ``name{labels}`` in a Prometheus exposition (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for series in family.samples:
            if series.name == name and series.labels == labels:
                return float(series.value)
    return 0.0


@dataclass
class CacheWorld:
    searx: FakeSearxng
    llm: FakeSGLang
    web_requests: list[str]
    settings: Settings

    def fetches(self, path: str) -> int:
        return sum(request.split("?", 1)[0] == path for request in self.web_requests)


@contextmanager
def cache_world(redis_url: str | None = None) -> Iterator[CacheWorld]:
    """Fake web, SearXNG and SGLang; answers are never replayed, so each request searches."""
    web_app, searx, llm = fake_web_app(), FakeSearxng(), FakeSGLang()
    with serve(web_app) as web, serve(searx.app()) as searx_server, serve(llm.app()) as model:
        searx.results = [
            searx_result(f"{web.url}/notes.txt", "Notes", "Gardens cool blocks."),
            searx_result(f"{web.url}/readme.md", "Readme", "How caching works.", position=2),
        ]
        settings = Settings(
            llm=LLMSettings(base_url=f"{model.url}/v1"),
            search=SearchSettings(engines=["searxng"], searxng_url=searx_server.url),
            fetch=FetchSettings(allow_hosts=["127.0.0.1"], deadline_s=5, extract_workers=1),
            prompt=PromptSettings(timezone="UTC"),
            server=ServerSettings(answer_cache_ttl_s=0),
            redis=RedisSettings(url=redis_url, op_timeout_s=0.2),
            cache=CacheSettings(),
        )
        yield CacheWorld(searx, llm, web_app[REQUEST_LOG], settings)


async def ask(server: AppServer, *questions: str) -> tuple[list[dict[str, object]], str]:
    """The answer documents, then the metrics."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30, trust_env=False) as http:
        docs = [
            (await http.post("/v1/answer", json={"query": q, "stream": False})).json()
            for q in questions
        ]
        return docs, (await http.get("/metrics")).text


async def test_a_repeated_search_is_answered_from_the_search_cache() -> None:
    with cache_world() as world, AppServer(create_app(world.settings)) as server:
        docs, metrics = await ask(server, QUESTION, QUESTION)

    assert [doc["status"] for doc in docs] == ["done", "done"]
    assert not docs[1]["cached"]  # a new answer, from the same search results
    assert docs[0]["sources"] == docs[1]["sources"]
    assert len(world.searx.requests) == 1
    assert sample(metrics, "searchqa_cache_hits_total", cache="search") == 1
    assert sample(metrics, "searchqa_cache_misses_total", cache="search") == 1


async def test_a_page_two_questions_share_is_fetched_once(redis_url: str) -> None:
    with cache_world(redis_url) as world, AppServer(create_app(world.settings)) as server:
        docs, metrics = await ask(server, QUESTION, OTHER_QUESTION)

    assert [doc["status"] for doc in docs] == ["done", "done"]
    assert len(world.searx.requests) == 2  # different questions search separately
    assert (world.fetches("/notes.txt"), world.fetches("/readme.md")) == (1, 1)
    assert docs[0]["sources"] == docs[1]["sources"]  # same text, title and snippet
    assert sample(metrics, "searchqa_cache_hits_total", cache="page") == 2


async def test_answers_go_on_without_redis(redis_server: RedisServer) -> None:
    with cache_world(redis_server.url) as world, AppServer(create_app(world.settings)) as server:
        redis_server.kill()
        docs, metrics = await ask(server, QUESTION, QUESTION)

    assert [doc["status"] for doc in docs] == ["done", "done"]
    assert docs[0]["answer"] == docs[1]["answer"]
    assert len(world.searx.requests) == 2  # nothing could be cached
    assert world.fetches("/notes.txt") == 2
    failures = sum(
        series.value
        for family in text_string_to_metric_families(metrics)
        for series in family.samples
        if series.name == "searchqa_state_errors_total"
    )
    assert failures >= 1  # counted, whichever operation met the outage first


async def test_redis_dying_mid_answer_does_not_break_the_answer(
    redis_server: RedisServer,
) -> None:
    with cache_world(redis_server.url) as world, AppServer(create_app(world.settings)) as server:
        world.llm.token_delay_s = 0.02
        world.llm.answer = "Shade cools the block [citation:1]." + " More on that." * 30
        async with httpx.AsyncClient(base_url=server.url, timeout=30, trust_env=False) as http:
            async with http.stream("POST", "/v1/answer", json={"query": QUESTION}) as stream:
                frames = iter_frames(stream)
                seen = [await anext(frames)]
                while seen[-1].event != "answer":
                    seen.append(await anext(frames))
                redis_server.kill()
                seen += [frame async for frame in frames]
            ready = await http.get("/readyz")

    events = events_of(seen)
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert done.answer.endswith("More on that.")
    assert ready.status_code == 503
    assert ready.json()["checks"]["state"]["ok"] is False


async def test_cached_engine_reuses_only_complete_successful_results() -> None:
    searx = FakeSearxng([searx_result(f"https://site{n}.example/", f"Site {n}") for n in range(5)])
    with serve(searx.app()) as server:
        engine = CachedSearchEngine(SearxngEngine(server.url), MemoryCache(), ttl_s=60)
        first = await engine.search("rust", language="en", max_results=3)
        again = await engine.search("  rust ", language="en", max_results=2)
        assert len(searx.requests) == 1
        assert [hit.url for hit in again] == [hit.url for hit in first[:2]]

        await engine.search("rust", language="zh", max_results=3)  # another language
        more = await engine.search("rust", language="en", max_results=5)  # more than was asked
        assert len(searx.requests) == 3
        assert len(more) == 5

        searx.by_query["nothing"] = []
        await engine.search("nothing", language="en", max_results=3)
        await engine.search("nothing", language="en", max_results=3)
        assert len(searx.requests) == 5  # an empty result may be a passing hiccup

        searx.status = 500
        with pytest.raises(SearchError):
            await engine.search("python", language="en", max_results=3)
        searx.status = 200
        assert len(await engine.search("python", language="en", max_results=3)) == 3
        assert len(searx.requests) == 7


def test_the_local_index_and_a_zero_ttl_are_not_cached(tmp_path: Path) -> None:
    searx = SearxngEngine("http://127.0.0.1:9")
    local = LocalEngine(IndexSettings(path=tmp_path / "index.sqlite3"))
    wrapped = cache_engines([searx, local], MemoryCache(), ttl_s=60)
    assert isinstance(wrapped[0], CachedSearchEngine)
    assert wrapped[0].name == "searxng"
    assert wrapped[1] is local
    assert cache_engines([searx], MemoryCache(), ttl_s=0) == [searx]
