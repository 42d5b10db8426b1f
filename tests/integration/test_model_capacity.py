"""SGLang at capacity and SGLang's readiness, as searchqa reports them.

The fake SGLang queues like SGLang's scheduler (``--max-running-requests``,
``--max-queued-requests``) and refuses with SGLang's queue-full chunk; ``/ready`` answers as
SGLang's does. A slot is held by a slow stream of our own, so the refusal is certain, not a race.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
from litestar.testing import AsyncTestClient

from searchqa.api.app import create_app
from searchqa.errors import LLMError
from searchqa.events import ErrorEvent
from searchqa.llm import OpenAIChatModel
from searchqa.settings import LLMSettings
from tests.fakes.sglang import QUEUE_FULL, FakeSGLang
from tests.integration.api_support import World, events_of, local_world, parse_frames

QUESTION = "How do community gardens cool cities?"


@pytest.fixture
def world() -> Iterator[World]:
    with local_world() as world:
        world.llm.max_running_requests = 1
        world.llm.max_queued_requests = 0
        yield world


HOLD = "Hold the slot."


@asynccontextmanager
async def slot_taken(fake: FakeSGLang, base_url: str) -> AsyncIterator[None]:
    """Hold the fake's only generation slot with an endless stream until the block ends."""
    scripted = fake.reasoning, fake.answer
    fake.responder = lambda prompt: ("", "more " * 100_000) if HOLD in prompt else scripted
    fake.token_delay_s = 0.002  # the holder needs minutes, a scripted reply a fraction of a second
    body = {"model": fake.model, "stream": True, "messages": [{"role": "user", "content": HOLD}]}
    async with (
        httpx.AsyncClient(timeout=10) as client,
        client.stream("POST", f"{base_url}/chat/completions", json=body) as response,
    ):
        chunks = response.aiter_bytes()  # kept: a dropped iterator would close the stream
        await anext(chunks)  # headers and the role chunk: the slot is ours
        assert fake.running == 1
        yield


async def test_a_full_queue_is_a_retryable_overload_in_the_client(world: World) -> None:
    base_url = world.settings.llm.base_url
    assert base_url is not None
    model = OpenAIChatModel(LLMSettings(base_url=base_url))
    try:
        async with slot_taken(world.llm, base_url):
            with pytest.raises(LLMError) as caught:
                async for _ in model.stream(QUESTION, max_tokens=100):
                    pass
    finally:
        await model.aclose()
    assert (caught.value.code, caught.value.retryable) == ("llm_overloaded", True)
    assert QUEUE_FULL in caught.value.message
    assert caught.value.http_status == 503
    assert world.llm.refused == 1


async def test_a_full_queue_ends_the_answer_with_a_retryable_error_event(world: World) -> None:
    base_url = world.settings.llm.base_url
    assert base_url is not None
    async with AsyncTestClient(create_app(world.settings)) as client:
        async with slot_taken(world.llm, base_url):
            streamed = await client.post("/v1/answer", json={"query": QUESTION})
            whole = await client.post(
                "/v1/answer", json={"query": QUESTION + " Again?", "stream": False}
            )
        retried = await client.post("/v1/answer", json={"query": QUESTION, "no_cache": True})

    error = events_of(parse_frames(streamed.text))[-1]
    assert isinstance(error, ErrorEvent)
    assert (error.code, error.retryable) == ("llm_overloaded", True)
    assert whole.status_code == 503  # the JSON document of an overloaded answer
    assert whole.json()["retryable"] is True
    assert events_of(parse_frames(retried.text))[-1].type == "done"  # room again: it answers


@pytest.mark.parametrize(
    ("ready", "ready_route", "status", "probe"),
    [
        (True, True, 200, None),
        (False, True, 503, "/ready"),
        (True, False, 200, None),  # a server without /ready: its model list decides
    ],
    ids=["sglang-ready", "sglang-not-ready", "no-ready-route"],
)
async def test_readyz_reads_the_model_servers_ready_route(
    world: World, ready: bool, ready_route: bool, status: int, probe: str | None
) -> None:
    world.llm.ready, world.llm.ready_route = ready, ready_route
    async with AsyncTestClient(create_app(world.settings)) as client:
        response = await client.get("/readyz")

    assert response.status_code == status, response.text
    llm = response.json()["checks"]["llm"]
    assert llm["ok"] is (status == 200)
    assert llm.get("probe") == probe
    assert world.llm.ready_checks == 1
    if probe:
        assert "/ready answered HTTP 503" in llm["detail"]


async def test_readiness_follows_the_server_after_the_first_success(world: World) -> None:
    base_url = world.settings.llm.base_url
    assert base_url is not None
    model = OpenAIChatModel(LLMSettings(base_url=base_url))
    try:
        first = await model.readiness()
        world.llm.ready = False  # paused, or gone unhealthy
        second = await model.readiness()
        world.llm.ready, world.llm.ready_route = True, False
        third = await model.readiness()  # the route is gone: the model list answers now
        fourth = await model.readiness()
    finally:
        await model.aclose()
    assert (first.ok, first.probe) == (True, "/ready")
    assert (second.ok, second.probe) == (False, "/ready")
    assert (third.ok, third.probe) == (True, "/v1/models")
    assert (fourth.ok, fourth.probe) == (True, "/v1/models")
    assert world.llm.ready_checks == 3  # after a 404 /ready is not asked again


async def test_readiness_of_an_unreachable_server_says_why() -> None:
    model = OpenAIChatModel(LLMSettings(base_url="http://127.0.0.1:9/v1", connect_timeout_s=2))
    try:
        readiness = await asyncio.wait_for(model.readiness(), timeout=5)
    finally:
        await model.aclose()
    assert not readiness.ok
    assert readiness.probe == "/ready"
    assert readiness.detail is not None
    assert "cannot connect" in readiness.detail
