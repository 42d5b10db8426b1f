"""Shared state against a real redis-server: one contract for every backend, then what only
Redis does (several workers, several processes) and what happens when Redis dies or hangs."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from searchqa.settings import RedisSettings
from searchqa.state import StateBackend, build_state
from searchqa.state.protocols import EventBatch, LogEntry
from searchqa.state.redis import build_redis_state
from searchqa.state.resilient import build_resilient_state
from tests.fakes.redis import RedisServer

ROOT = Path(__file__).resolve().parents[2]
MakeState = Callable[..., StateBackend]


@pytest.fixture(params=["memory", "redis", "resilient"])
async def make_state(request: pytest.FixtureRequest) -> AsyncIterator[MakeState]:
    """Builds backends of one kind (memory, plain Redis, Redis with fallback); closes them."""
    made: list[StateBackend] = []
    url = None if request.param == "memory" else request.getfixturevalue("redis_url")

    def make(**settings: Any) -> StateBackend:
        config = RedisSettings(url=url, **settings)
        state = build_redis_state(config) if request.param == "redis" else build_state(config)
        made.append(state)
        return state

    yield make
    for state in made:
        await state.aclose()


@pytest.fixture
async def state(make_state: MakeState) -> StateBackend:
    return make_state()


async def eventually(check: Callable[[], Awaitable[bool]], within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while not await check():
        assert time.monotonic() < deadline, "condition never became true"
        await asyncio.sleep(0.02)


# --- the contract, on every backend ---------------------------------------------------------


async def test_cache_round_trips_bytes_until_the_ttl_lapses(state: StateBackend) -> None:
    page = ("Community gardens cool city blocks. " * 4000).encode()
    await state.cache.set("page", page, ttl_s=60)
    await state.cache.set("blob", bytes(range(256)), ttl_s=60)
    await state.cache.set("short", b"gone soon", ttl_s=0.15)
    assert await state.cache.get("page") == page
    assert await state.cache.get("blob") == bytes(range(256))
    assert await state.cache.get("short") == b"gone soon"
    assert await state.cache.get("never-set") is None
    await asyncio.sleep(0.3)
    assert await state.cache.get("short") is None
    assert await state.cache.get("page") == page


async def test_rate_limit_allows_exactly_the_limit_per_window(state: StateBackend) -> None:
    decisions = [await state.limiter.hit("client-a", limit=3, window_s=60) for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0, 0]
    assert all(d.limit == 3 and 0 < d.reset_s <= 60 for d in decisions)
    assert (await state.limiter.hit("client-b", limit=3, window_s=60)).allowed

    assert (await state.limiter.hit("burst", limit=1, window_s=0.2)).allowed
    assert not (await state.limiter.hit("burst", limit=1, window_s=0.2)).allowed
    await asyncio.sleep(0.3)
    assert (await state.limiter.hit("burst", limit=1, window_s=0.2)).allowed


async def test_stream_is_resumable_from_any_seq(state: StateBackend) -> None:
    events = state.events
    assert [await events.append("s", f"type{n}", f'{{"n": {n}}}') for n in (1, 2, 3)] == [1, 2, 3]
    batch = await events.read("s", after=0)
    assert batch == EventBatch(
        [
            LogEntry(1, "type1", '{"n": 1}'),
            LogEntry(2, "type2", '{"n": 2}'),
            LogEntry(3, "type3", '{"n": 3}'),
        ],
        False,
        True,
    )
    assert (await events.read("s", after=2)).events == [LogEntry(3, "type3", '{"n": 3}')]
    assert (await events.read("s", after=3)) == EventBatch([], finished=False, exists=True)

    await events.finish("s")
    assert (await events.read("s", after=1)) == EventBatch(
        [LogEntry(2, "type2", '{"n": 2}'), LogEntry(3, "type3", '{"n": 3}')],
        finished=True,
        exists=True,
    )
    assert (await events.read("s", after=3)) == EventBatch([], finished=True, exists=True)
    assert (await events.read("s", after=10**30)) == EventBatch([], finished=True, exists=True)
    with pytest.raises(ValueError, match="finished"):
        await events.append("s", "status", "late")
    assert (await events.read("unknown", after=0)) == EventBatch([], False, False)


async def test_blocking_read_wakes_on_append_and_on_finish(state: StateBackend) -> None:
    events = state.events
    # A follower may start before its leader has written anything.
    first = asyncio.create_task(events.read("live", after=0, block_s=5))
    await asyncio.sleep(0.1)
    assert not first.done()
    await events.append("live", "status", "hello")
    assert (await asyncio.wait_for(first, 4)).events == [LogEntry(1, "status", "hello")]

    end = asyncio.create_task(events.read("live", after=1, block_s=5))
    await asyncio.sleep(0.1)
    await events.finish("live")
    assert await asyncio.wait_for(end, 4) == EventBatch([], finished=True, exists=True)

    quiet = await events.read("silent", after=0, block_s=0.2)
    assert quiet == EventBatch([], finished=False, exists=False)


async def test_streams_expire_after_their_ttl(make_state: MakeState) -> None:
    events = make_state(stream_ttl_s=0.3).events
    await events.append("old", "status", "x")
    await asyncio.sleep(0.15)
    await events.append("old", "status", "y")  # a write refreshes the TTL
    await asyncio.sleep(0.2)
    assert (await events.read("old", after=0)).events == [
        LogEntry(1, "status", "x"),
        LogEntry(2, "status", "y"),
    ]
    await asyncio.sleep(0.4)
    assert (await events.read("old", after=0)) == EventBatch([], finished=False, exists=False)


async def test_stop_requests_reach_the_writer(state: StateBackend) -> None:
    await state.events.append("a", "status", "x")
    assert not await state.events.stop_requested("a")
    await state.events.request_stop("a")
    assert await state.events.stop_requested("a")
    assert not await state.events.stop_requested("b")


async def test_clients_count_as_attached_until_detached_or_lapsed(state: StateBackend) -> None:
    events = state.events
    await events.attach("s", "browser", ttl_s=30)
    await events.attach("s", "phone", ttl_s=0.2)
    await events.attach("other", "tv", ttl_s=30)
    assert await events.attached("s") == 2
    await events.detach("s", "browser")
    assert await events.attached("s") == 1
    await asyncio.sleep(0.3)
    assert await events.attached("s") == 0
    await events.attach("s", "phone", ttl_s=30)  # a heartbeat brings it back
    assert await events.attached("s") == 1
    assert await events.attached("nobody") == 0


async def test_single_flight_elects_exactly_one_leader(state: StateBackend) -> None:
    flights = state.flights
    claims = await asyncio.gather(*(flights.claim("q", f"stream-{n}", ttl_s=30) for n in range(20)))
    leaders = [f"stream-{n}" for n, claim in enumerate(claims) if claim is None]
    assert len(leaders) == 1
    assert all(claim in (None, leaders[0]) for claim in claims)
    assert await flights.claim("q", leaders[0], ttl_s=30) is None  # the leader keeps its lead

    await flights.release("q", "stream-impostor")
    assert await flights.claim("q", "late", ttl_s=30) == leaders[0]
    await flights.release("q", leaders[0])
    assert await flights.claim("q", "late", ttl_s=0.2) is None
    await asyncio.sleep(0.3)
    assert await flights.claim("q", "after-lapse", ttl_s=30) is None


async def test_counters_sum_per_name_and_labels(state: StateBackend) -> None:
    await state.counters.incr("answers", {"surface": "api", "cached": "no"})
    await state.counters.incr("answers", {"cached": "no", "surface": "api"}, 2)
    await state.counters.incr("answers", {"surface": "slack", "cached": "no"})
    await state.counters.incr("tokens", {}, 0.5)
    assert await state.counters.snapshot() == {
        ("answers", (("cached", "no"), ("surface", "api"))): 3.0,
        ("answers", (("cached", "no"), ("surface", "slack"))): 1.0,
        ("tokens", ()): 0.5,
    }


async def test_health_is_ok(state: StateBackend) -> None:
    ok, detail = await state.health()
    assert ok, detail


# --- what only Redis does -------------------------------------------------------------------


async def test_workers_share_streams_clients_flights_and_counters(redis_url: str) -> None:
    one, two = (build_state(RedisSettings(url=redis_url)) for _ in range(2))
    try:
        follow = asyncio.create_task(two.events.read("s", after=0, block_s=5))
        await asyncio.sleep(0.1)
        await one.events.append("s", "status", "from worker one")
        assert (await asyncio.wait_for(follow, 4)).events == [
            LogEntry(1, "status", "from worker one")
        ]
        await one.events.finish("s")
        assert (await two.events.read("s", after=1)).finished

        await one.events.attach("s", "a", ttl_s=30)
        await two.events.attach("s", "b", ttl_s=30)
        assert await one.events.attached("s") == 2
        await two.events.request_stop("s")
        assert await one.events.stop_requested("s")

        assert await one.flights.claim("q", "s", ttl_s=30) is None
        assert await two.flights.claim("q", "t", ttl_s=30) == "s"

        await one.counters.incr("answers", {"surface": "api"})
        await two.counters.incr("answers", {"surface": "api"})
        assert (await one.counters.snapshot())["answers", (("surface", "api"),)] == 2.0
    finally:
        await one.aclose()
        await two.aclose()


_HAMMER = """
import asyncio, sys
from searchqa.settings import RedisSettings
from searchqa.state import build_state

async def main() -> None:
    state = build_state(RedisSettings(url=sys.argv[1]))
    await state.health()  # connect before the start signal
    print("ready", flush=True)
    sys.stdin.readline()
    allowed = 0
    for _ in range(20):
        hits = [state.limiter.hit("shared", limit=150, window_s=60) for _ in range(10)]
        allowed += sum(d.allowed for d in await asyncio.gather(*hits))
    print(allowed, flush=True)
    await state.aclose()

asyncio.run(main())
"""


def test_rate_limit_is_atomic_across_processes(redis_url: str) -> None:
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _HAMMER, redis_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for _ in range(2)
    ]
    for worker in workers:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready"
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    allowed = [int(worker.communicate(timeout=20)[0].strip()) for worker in workers]
    assert sum(allowed) == 150  # of 400 hits, from two processes at once


async def test_keys_are_prefixed_and_page_text_compressed(redis_url: str) -> None:
    raw = Redis.from_url(redis_url)
    ours = build_state(RedisSettings(url=redis_url, prefix="ours:"))
    theirs = build_state(RedisSettings(url=redis_url, prefix="theirs:"))
    try:
        page = ("Trafilatura keeps the main text of a page. " * 2000).encode()
        await ours.cache.set("page", page, ttl_s=60)
        await ours.limiter.hit("k", limit=1, window_s=60)
        await ours.events.append("s", "status", "x")
        await ours.events.attach("s", "c", ttl_s=60)
        await ours.flights.claim("q", "s", ttl_s=60)
        await ours.counters.incr("n", {})
        keys = [key.decode() for key in await raw.keys("*") if isinstance(key, bytes)]
        assert len(keys) == 6
        assert all(key.startswith("ours:") for key in keys)
        stored = await raw.get("ours:cache:page")
        assert isinstance(stored, bytes)
        assert len(stored) < len(page) / 10
        assert zlib.decompress(stored[1:]) == page
        assert await theirs.cache.get("page") is None
        assert (await theirs.limiter.hit("k", limit=1, window_s=60)).allowed
        assert await theirs.flights.claim("q", "t", ttl_s=60) is None
    finally:
        await raw.aclose()
        await ours.aclose()
        await theirs.aclose()


# --- Redis failing --------------------------------------------------------------------------


def _resilient(url: str, **settings: Any) -> StateBackend:
    config = RedisSettings(url=url, op_timeout_s=0.2, **settings)
    return build_resilient_state(config, retry_min_s=0.05, retry_max_s=0.2)


async def _healthy(state: StateBackend) -> bool:
    return (await state.health())[0]


async def test_killed_redis_degrades_every_operation_then_recovers(
    redis_server: RedisServer,
) -> None:
    state, peer = _resilient(redis_server.url), _resilient(redis_server.url)
    try:
        await state.cache.set("k", b"v", ttl_s=60)
        await state.flights.claim("q", "first", ttl_s=60)
        await state.counters.incr("answers", {"surface": "api"})
        await state.events.append("live", "status", "one")
        await state.events.append("live", "status", "two")
        await state.events.attach("live", "browser", ttl_s=60)
        follower = asyncio.create_task(state.events.read("live", after=2, block_s=5))
        await asyncio.sleep(0.05)

        redis_server.kill()

        # The answer in progress keeps streaming to its own clients.
        assert await state.events.append("live", "status", "three") == 3
        assert (await asyncio.wait_for(follower, 4)).events == [LogEntry(3, "status", "three")]
        assert [e.data for e in (await state.events.read("live", after=0)).events] == [
            "one", "two", "three",
        ]  # fmt: skip
        assert await state.events.attached("live") == 1
        await state.events.request_stop("live")
        assert await state.events.stop_requested("live")
        # New streams work in-process.
        waiting = asyncio.create_task(state.events.read("fresh", after=0, block_s=5))
        await asyncio.sleep(0.05)
        await state.events.append("fresh", "status", "f1")
        assert (await asyncio.wait_for(waiting, 4)).events == [LogEntry(1, "status", "f1")]
        await state.events.finish("fresh")
        # Streams of other workers are out of reach, and say so.
        gone = await state.events.read("elsewhere", after=0, block_s=0.2)
        assert gone == EventBatch([], finished=False, exists=False, reachable=False)

        assert await state.cache.get("k") is None
        await state.cache.set("k", b"w", ttl_s=60)
        assert (await state.limiter.hit("ip", limit=1, window_s=60)).allowed
        assert (await state.limiter.hit("ip", limit=1, window_s=60)).allowed
        assert await state.flights.claim("q", "second", ttl_s=60) is None
        await state.flights.release("q", "second")
        await state.counters.incr("answers", {"surface": "api"})
        degraded = await state.counters.snapshot()
        assert degraded["answers", (("surface", "api"),)] == 2.0
        assert any(name == "state_errors" and n > 0 for (name, _), n in degraded.items())
        ok, detail = await state.health()
        assert not ok
        assert "failing" in detail
        assert "allow" in detail
        assert redis_server.url in detail

        redis_server.start()  # same port, empty
        await eventually(lambda: _healthy(state))

        await state.cache.set("k", b"back", ttl_s=60)
        assert await peer.cache.get("k") == b"back"
        assert (await state.limiter.hit("ip", limit=1, window_s=60)).allowed
        assert not (await peer.limiter.hit("ip", limit=1, window_s=60)).allowed
        assert await peer.flights.claim("q2", "p", ttl_s=60) is None
        assert await state.flights.claim("q2", "s", ttl_s=60) == "p"
        # What Redis missed reaches the other workers once it is back.
        await state.events.finish("live")

        async def peer_sees_everything() -> bool:
            live = await peer.events.read("live", after=0)
            fresh = await peer.events.read("fresh", after=0)
            return (live.finished, len(live.events), fresh.finished) == (True, 3, True)

        await eventually(peer_sees_everything)
        counts = await peer.counters.snapshot()
        assert counts["answers", (("surface", "api"),)] == 1.0  # the outage's increment
        assert any(name == "state_errors" for name, _ in counts)
    finally:
        await state.aclose()
        await peer.aclose()


async def test_hung_redis_does_not_hang_requests(redis_server: RedisServer) -> None:
    state = _resilient(redis_server.url)
    try:
        await state.cache.set("k", b"v", ttl_s=60)
        redis_server.freeze()
        async with asyncio.timeout(5):  # op_timeout_s is 0.2: anything near 5 s is a hang
            assert await state.cache.get("k") is None
            assert (await state.limiter.hit("ip", limit=5, window_s=60)).allowed
            assert await state.events.append("s", "status", "x") == 1
            assert not (await state.health())[0]
        redis_server.thaw()
        await eventually(lambda: _healthy(state))
        assert await state.cache.get("k") == b"v"
    finally:
        redis_server.thaw()
        await state.aclose()


async def test_fail_closed_limiter_denies_while_redis_is_down(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    state = _resilient(redis_server.url, fail_closed=True)
    try:
        assert (await state.limiter.hit("ip", limit=5, window_s=60)).allowed
        redis_server.kill()
        with caplog.at_level(logging.WARNING, logger="searchqa.state"):
            for _ in range(20):
                decision = await state.limiter.hit("ip", limit=5, window_s=60)
                assert not decision.allowed
                assert decision.reset_s >= 1
                await asyncio.sleep(0.02)
        assert "deny" in (await state.health())[1]
        failures = [r for r in caplog.records if "limiter.hit failed" in r.getMessage()]
        assert len(failures) == 1  # logged once, not once per request
    finally:
        await state.aclose()


async def test_follower_on_another_worker_catches_up_after_a_redis_restart(
    redis_server: RedisServer,
) -> None:
    writer, follower = _resilient(redis_server.url), _resilient(redis_server.url)
    try:
        await writer.events.append("s", "status", "before")
        assert (await follower.events.read("s", after=0)).events == [
            LogEntry(1, "status", "before")
        ]
        redis_server.kill()
        await writer.events.append("s", "status", "during")
        waiting = asyncio.create_task(follower.events.read("s", after=1, block_s=8))
        assert (await follower.events.read("s", after=1)).reachable is False
        redis_server.start()  # empty: the writer must send the whole stream again
        await eventually(lambda: _healthy(writer))
        assert (await asyncio.wait_for(waiting, 7)).events == [LogEntry(2, "status", "during")]
        await writer.events.finish("s")
        assert (await follower.events.read("s", after=0)) == EventBatch(
            [LogEntry(1, "status", "before"), LogEntry(2, "status", "during")],
            finished=True,
            exists=True,
        )
    finally:
        await writer.aclose()
        await follower.aclose()
