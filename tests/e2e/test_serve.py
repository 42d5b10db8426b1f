"""``searchqa serve`` as a real process: long streams, dropped connections, shutdown, workers."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Iterator

import pytest

from searchqa.events import (
    AnswerEvent,
    DoneEvent,
    ErrorEvent,
    Event,
    MetaEvent,
    ReasoningEvent,
)
from tests.e2e.conftest import World, text_world
from tests.fakes.served import ServeProcess, free_port
from tests.fakes.sglang import FakeSGLang
from tests.integration.api_support import Frame, iter_frames, parse_frames

QUESTION = "How do community gardens cool cities?"
EXITED_CLEANLY = (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down
LONG_ANSWER = "Shade and water cool the block [citation:1]." + " More detail follows here." * 20


class Served(ServeProcess):
    """``searchqa serve`` for this module's world, with extra settings."""

    def __init__(self, world: World, *args: str, **env: str) -> None:
        super().__init__(world.home, world.env(**env), *args)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with text_world(tmp_path_factory.mktemp("serve"), FakeSGLang(answer=LONG_ANSWER)) as world:
        yield world


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[Served]:
    served = Served(world, SEARCHQA_SERVER__GRACE_S="1", SEARCHQA_SERVER__KEEPALIVE_S="0.3")
    yield served
    served.stop()


@pytest.fixture(autouse=True)
def _fresh_llm(world: World) -> None:
    llm = world.llm
    llm.requests.clear()
    llm.disconnects = llm.completed = 0
    llm.token_delay_s, llm.first_token_delay_s = 0.005, 0.0


def chats(world: World) -> int:
    return sum(r.path.endswith("/chat/completions") for r in world.llm.requests)


async def frames_until(stream: AsyncIterator[Frame], kind: type[Event]) -> list[Frame]:
    """Frames up to and including the first event of type ``kind``."""
    frames: list[Frame] = []
    async for frame in stream:
        frames.append(frame)
        if frame.data is not None and isinstance(frame.parsed(), kind):
            return frames
    raise AssertionError(f"the stream ended before {kind.__name__}")


async def test_a_long_answer_streams_as_it_is_generated(server: Served, world: World) -> None:
    world.llm.first_token_delay_s, world.llm.token_delay_s = 0.6, 0.01
    async with (
        server.client() as http,
        http.stream("POST", "/v1/answer", json={"query": QUESTION, "no_cache": True}) as response,
    ):
        stream = iter_frames(response)
        head = await frames_until(stream, AnswerEvent)
        assert world.llm.completed == 0  # the first answer text came while the model still wrote
        rest = [frame async for frame in stream]

    assert any(f.comment == "keep-alive" for f in head)  # sent while the model prefilled
    data = [f for f in head + rest if f.data is not None]
    meta, done = data[0].parsed(), data[-1].parsed()
    assert isinstance(meta, MetaEvent)
    assert isinstance(done, DoneEvent)
    assert [f.id for f in data] == [f"{meta.request_id}-{n}" for n in range(1, len(data) + 1)]
    assert done.answer.startswith("Shade and water cool the block [1].")


@pytest.mark.parametrize("route", ["events", "eventsource"])
async def test_a_dropped_connection_resumes_from_its_last_event(
    server: Served, world: World, route: str
) -> None:
    async with server.client() as http:
        async with http.stream(
            "POST", "/v1/answer", json={"query": QUESTION, "no_cache": True}
        ) as response:
            before = await frames_until(iter_frames(response), AnswerEvent)
        meta = before[0].parsed()
        assert isinstance(meta, MetaEvent)
        headers = {"Last-Event-ID": before[-1].id or ""}
        if route == "events":
            path, params = f"/v1/answers/{meta.request_id}/events", {}
        else:
            path, params = "/v1/answer", {"q": QUESTION, "no_cache": "true"}
        resumed = parse_frames((await http.get(path, params=params, headers=headers)).text)

    data = [f for f in before + resumed if f.data is not None]
    assert [f.id for f in data] == [f"{meta.request_id}-{n}" for n in range(1, len(data) + 1)]
    done = data[-1].parsed()
    assert isinstance(done, DoneEvent)
    assert done.answer == "".join(
        e.text for e in (f.parsed() for f in data) if isinstance(e, AnswerEvent)
    )
    assert (chats(world), world.llm.disconnects) == (1, 0)


async def test_the_model_request_closes_after_the_grace_period(
    server: Served, world: World
) -> None:
    world.llm.token_delay_s = 0.05  # longer than the grace period of one second
    async with (
        server.client() as http,
        http.stream("POST", "/v1/answer", json={"query": QUESTION, "no_cache": True}) as response,
    ):
        await frames_until(iter_frames(response), ReasoningEvent)

    async with asyncio.timeout(5):
        await world.llm.wait_for_disconnect()
    assert world.llm.completed == 0


async def test_shutdown_ends_running_streams_with_shutting_down(world: World) -> None:
    world.llm.token_delay_s = 0.05  # about five seconds of answer
    served = Served(world, SEARCHQA_SERVER__SHUTDOWN_GRACE_S="1")
    try:
        async with (
            served.client() as http,
            http.stream("POST", "/v1/answer", json={"query": QUESTION}) as response,
        ):
            stream = iter_frames(response)
            await frames_until(stream, ReasoningEvent)
            served.process.send_signal(signal.SIGTERM)
            rest = [frame async for frame in stream]
        last = rest[-1].parsed()
        assert isinstance(last, ErrorEvent)
        assert (last.code, last.retryable) == ("shutting_down", True)
        assert served.process.wait(timeout=15) in EXITED_CLEANLY
    finally:
        served.stop()
    async with asyncio.timeout(2):
        await world.llm.wait_for_disconnect()


def test_several_workers_need_redis(world: World) -> None:
    result = world.run("serve", "--workers", "2", "--port", str(free_port()))
    assert result.returncode == 2
    assert "SEARCHQA_REDIS__URL" in result.stderr


async def test_workers_sharing_redis_share_one_generation(world: World, redis_url: str) -> None:
    world.llm.first_token_delay_s, world.llm.token_delay_s = 0.5, 0
    served = Served(world, "--workers", "2", SEARCHQA_REDIS__URL=redis_url)
    try:
        async with served.client() as http:
            body = {"query": "Why is the sky blue?", "stream": False}
            responses = await asyncio.gather(
                *(http.post("/v1/answer", json=body) for _ in range(6))
            )
            docs = [response.json() for response in responses]
            request_id = docs[0]["request_id"]
            replay = await http.get(f"/v1/answers/{request_id}/events")
    finally:
        assert served.stop() in EXITED_CLEANLY
    assert {doc["status"] for doc in docs} == {"done"}
    assert {doc["request_id"] for doc in docs} == {request_id}
    assert chats(world) == 1
    done = parse_frames(replay.text)[-1].parsed()
    assert isinstance(done, DoneEvent)
    assert done.answer == docs[0]["answer"]
