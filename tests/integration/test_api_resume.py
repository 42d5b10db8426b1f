"""Answer sessions over real HTTP (uvicorn): resume, grace period, stop, single-flight."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from searchqa.api.app import create_app
from searchqa.events import AnswerEvent, DoneEvent, ErrorEvent, Event, MetaEvent, ReasoningEvent
from tests.integration.api_support import (
    AppServer,
    Frame,
    World,
    iter_frames,
    local_world,
    parse_frames,
)

QUESTION = "How do community gardens cool cities?"
LONG_ANSWER = "Shade and water cool the block [citation:1]." + " More detail follows here." * 12


@pytest.fixture
def world() -> Iterator[World]:
    with local_world(grace_s=5, keepalive_s=0.5) as world:
        world.llm.answer = LONG_ANSWER
        world.llm.token_delay_s = 0.01
        yield world


@pytest.fixture
async def http(world: World) -> AsyncIterator[httpx.AsyncClient]:
    with AppServer(create_app(world.settings)) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=20, trust_env=False) as client:
            yield client


async def read_until(
    stream: AsyncIterator[Frame] | httpx.Response, kind: type[Event], count: int = 1
) -> list[Frame]:
    """Frames up to and including the ``count``-th event of type ``kind``."""
    if isinstance(stream, httpx.Response):
        stream = iter_frames(stream)
    frames: list[Frame] = []
    async for frame in stream:
        frames.append(frame)
        if frame.data is not None and isinstance(frame.parsed(), kind):
            count -= 1
            if count == 0:
                return frames
    raise AssertionError(f"the stream ended before {kind.__name__}")


def request_id_of(frames: list[Frame]) -> str:
    meta = frames[0].parsed()
    assert isinstance(meta, MetaEvent)
    return meta.request_id


def assert_whole_answer(frames: list[Frame], request_id: str) -> None:
    """Contiguous ids from 1, ending in ``done`` whose answer is the streamed text."""
    data = [f for f in frames if f.data is not None]
    assert [f.id for f in data] == [f"{request_id}-{n}" for n in range(1, len(data) + 1)]
    events = [f.parsed() for f in data]
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert done.answer == "".join(e.text for e in events if isinstance(e, AnswerEvent))
    assert done.answer.startswith("Shade and water cool the block [1].")


@pytest.mark.parametrize("route", ["events", "eventsource"])
async def test_a_dropped_stream_resumes_where_it_stopped(
    http: httpx.AsyncClient, world: World, route: str
) -> None:
    async with http.stream("POST", "/v1/answer", json={"query": QUESTION}) as response:
        before = await read_until(response, AnswerEvent, count=3)
    request_id = request_id_of(before)
    headers = {"Last-Event-ID": before[-1].id or ""}
    if route == "events":
        resumed = await http.get(f"/v1/answers/{request_id}/events", headers=headers)
    else:  # an EventSource reconnecting to the URL it started from
        resumed = await http.get("/v1/answer", params={"q": QUESTION}, headers=headers)

    assert resumed.status_code == 200
    assert_whole_answer(before + parse_frames(resumed.text), request_id)
    assert world.chat_requests() == 1
    assert world.llm.disconnects == 0


async def test_a_finished_stream_has_nothing_more_and_its_answer_stays_readable(
    http: httpx.AsyncClient, world: World
) -> None:
    world.llm.token_delay_s = 0
    frames = parse_frames((await http.post("/v1/answer", json={"query": QUESTION})).text)
    request_id = request_id_of(frames)

    at_end = await http.get(
        f"/v1/answers/{request_id}/events", headers={"Last-Event-ID": frames[-1].id or ""}
    )
    assert at_end.status_code == 204  # an EventSource stops reconnecting
    replay = await http.get(f"/v1/answers/{request_id}/events")
    assert parse_frames(replay.text) == frames
    doc = (await http.get(f"/v1/answers/{request_id}")).json()
    done = frames[-1].parsed()
    assert isinstance(done, DoneEvent)
    assert (doc["status"], doc["answer"], doc["request_id"]) == ("done", done.answer, request_id)


async def test_generation_stops_when_the_last_client_is_gone_past_the_grace_period(
    http: httpx.AsyncClient, world: World
) -> None:
    world.settings.server.grace_s = 0.5
    world.llm.token_delay_s = 0.03  # the answer would take seconds
    async with http.stream("POST", "/v1/answer", json={"query": QUESTION}) as response:
        frames = await read_until(response, ReasoningEvent)

    async with asyncio.timeout(3):
        await world.llm.wait_for_disconnect()
    assert world.llm.completed == 0
    request_id = request_id_of(frames)
    problem = (await http.get(f"/v1/answers/{request_id}")).json()
    assert problem["code"] == "abandoned"


async def test_a_client_returning_within_the_grace_period_keeps_the_answer_alive(
    http: httpx.AsyncClient, world: World
) -> None:
    world.settings.server.grace_s = 1.5
    world.llm.token_delay_s = 0.02
    async with http.stream("POST", "/v1/answer", json={"query": QUESTION}) as response:
        before = await read_until(response, ReasoningEvent)
    await asyncio.sleep(0.5)
    request_id = request_id_of(before)
    headers = {"Last-Event-ID": before[-1].id or ""}
    resumed = await http.get(f"/v1/answers/{request_id}/events", headers=headers)

    assert_whole_answer(before + parse_frames(resumed.text), request_id)
    assert (world.llm.completed, world.llm.disconnects) == (1, 0)


async def test_delete_stops_the_answer_and_ends_its_stream(
    http: httpx.AsyncClient, world: World
) -> None:
    async with http.stream("POST", "/v1/answer", json={"query": QUESTION}) as response:
        stream = iter_frames(response)
        frames = await read_until(stream, ReasoningEvent)
        request_id = request_id_of(frames)
        running = (await http.get(f"/v1/answers/{request_id}")).json()
        assert (running["status"], running["request_id"]) == ("running", request_id)
        stopped = await http.delete(f"/v1/answers/{request_id}")
        assert stopped.status_code == 204
        rest = [frame async for frame in stream]

    last = rest[-1].parsed()
    assert isinstance(last, ErrorEvent)
    assert last.code == "cancelled"
    assert not any(isinstance(f.parsed(), DoneEvent) for f in rest if f.data)
    async with asyncio.timeout(2):
        await world.llm.wait_for_disconnect()
    assert world.llm.completed == 0


async def test_identical_questions_asked_together_share_one_generation(
    http: httpx.AsyncClient, world: World
) -> None:
    world.llm.first_token_delay_s, world.llm.token_delay_s = 0.5, 0
    bodies = [{"query": QUESTION, "stream": False}] * 5
    responses = await asyncio.gather(*(http.post("/v1/answer", json=b) for b in bodies))

    docs = [response.json() for response in responses]
    assert all(doc["status"] == "done" for doc in docs)
    assert len({doc["request_id"] for doc in docs}) == 1
    assert len({doc["answer"] for doc in docs}) == 1
    assert world.chat_requests() == 1
    assert not any(doc["cached"] for doc in docs)


async def test_questions_with_history_are_never_shared(
    http: httpx.AsyncClient, world: World
) -> None:
    world.llm.first_token_delay_s, world.llm.token_delay_s = 0.3, 0
    history = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    bodies = [{"query": QUESTION, "stream": False, "history": history}] * 2
    responses = await asyncio.gather(*(http.post("/v1/answer", json=b) for b in bodies))

    assert len({response.json()["request_id"] for response in responses}) == 2
    assert world.chat_requests() == 2
