"""In-process state on a hand-driven clock, and the cache keys."""

from __future__ import annotations

import asyncio

import pytest

from searchqa.settings import RedisSettings
from searchqa.state import build_state
from searchqa.state.keys import answer_key, normalize_question, page_key, rate_key, search_key
from searchqa.state.memory import (
    MemoryCache,
    MemoryEventLog,
    MemoryRateLimiter,
    MemorySingleFlight,
)
from searchqa.state.protocols import EventBatch, LogEntry


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def test_cache_entries_lapse_with_their_ttl(clock: Clock) -> None:
    cache = MemoryCache(clock=clock)
    await cache.set("search", b"hits", ttl_s=60)
    await cache.set("page", b"text", ttl_s=3600)
    clock.now += 61
    assert await cache.get("search") is None
    assert await cache.get("page") == b"text"


async def test_cache_evicts_least_recently_used_beyond_its_byte_budget() -> None:
    cache = MemoryCache(max_bytes=10)
    await cache.set("a", b"aaaa", ttl_s=60)
    await cache.set("b", b"bbbb", ttl_s=60)
    assert await cache.get("a") == b"aaaa"  # a is now the most recently used
    await cache.set("c", b"cccc", ttl_s=60)
    assert (await cache.get("a"), await cache.get("b"), await cache.get("c")) == (
        b"aaaa", None, b"cccc",
    )  # fmt: skip
    await cache.set("huge", b"x" * 11, ttl_s=60)
    assert await cache.get("huge") is None
    assert await cache.get("c") == b"cccc"


async def test_rate_window_opens_at_the_first_hit_and_resets_after(clock: Clock) -> None:
    limiter = MemoryRateLimiter(clock=clock)
    assert (await limiter.hit("ip", limit=2, window_s=60)).reset_s == 60
    clock.now += 45
    second = await limiter.hit("ip", limit=2, window_s=60)
    assert (second.allowed, second.remaining, second.reset_s) == (True, 0, 15)
    denied = await limiter.hit("ip", limit=2, window_s=60)
    assert (denied.allowed, denied.reset_s) == (False, 15)
    clock.now += 15
    assert (await limiter.hit("ip", limit=2, window_s=60)).remaining == 1


async def test_stream_lives_stream_ttl_after_its_last_write(clock: Clock) -> None:
    events = MemoryEventLog(stream_ttl_s=600, clock=clock)
    await events.append("s", "status", "a")
    clock.now += 500
    await events.finish("s")
    clock.now += 500
    assert (await events.read("s", after=0)) == EventBatch([LogEntry(1, "status", "a")], True, True)
    clock.now += 101
    assert (await events.read("s", after=0)) == EventBatch([], False, False)
    assert await events.append("s", "status", "new life") == 1


async def test_reading_unknown_streams_leaves_nothing_behind(clock: Clock) -> None:
    events = MemoryEventLog(clock=clock)
    for n in range(100):
        await events.read(f"guess-{n}", after=0)
        assert not await events.stop_requested(f"guess-{n}")
        assert await events.attached(f"guess-{n}") == 0
    await events.read("waited-for", after=0, block_s=0.01)
    assert len(events) == 0


async def test_blocked_reader_keeps_its_stream_while_it_waits() -> None:
    events = MemoryEventLog(stream_ttl_s=0.01)
    reader = asyncio.create_task(events.read("s", after=0, block_s=2))
    await asyncio.sleep(0.05)  # longer than the TTL
    await events.append("s", "status", "late but seen")
    assert (await asyncio.wait_for(reader, 1)).events == [LogEntry(1, "status", "late but seen")]


async def test_heartbeats_keep_clients_attached(clock: Clock) -> None:
    events = MemoryEventLog(clock=clock)
    await events.attach("s", "browser", ttl_s=30)
    clock.now += 20
    await events.attach("s", "browser", ttl_s=30)
    clock.now += 20
    assert await events.attached("s") == 1
    clock.now += 11
    assert await events.attached("s") == 0


async def test_single_flight_claim_lapses(clock: Clock) -> None:
    flights = MemorySingleFlight(clock=clock)
    assert await flights.claim("q", "a", ttl_s=10) is None
    assert await flights.claim("q", "b", ttl_s=10) == "a"
    clock.now += 11
    assert await flights.claim("q", "b", ttl_s=10) is None


async def test_without_a_url_state_is_in_process() -> None:
    state = build_state(RedisSettings())
    assert state.kind == "memory"
    assert await state.health() == (True, "in-process state")
    await state.aclose()


def test_same_question_asked_differently_gets_one_key() -> None:
    variants = [
        "What is HTTP caching?",
        "  what is  http caching？",
        "WHAT IS HTTP CACHING",
        "what is http caching.",
    ]
    assert {normalize_question(v) for v in variants} == {"what is http caching"}
    key = answer_key(variants[0], language="en", engines=["ddg"], max_sources=8, date="2025-01-01")
    for variant in variants[1:]:
        assert key == answer_key(
            variant, language="en", engines=["ddg"], max_sources=8, date="2025-01-01"
        )


@pytest.mark.parametrize(
    "change",
    [
        {"question": "What is HTTP/2?"},
        {"language": "zh"},
        {"engines": ["searxng"]},
        {"max_sources": 3},
        {"date": "2025-01-02"},
    ],
)
def test_answers_differ_when_anything_that_shapes_them_does(change: dict[str, object]) -> None:
    base: dict[str, object] = {
        "question": "What is HTTP caching?",
        "language": "en",
        "engines": ["ddg"],
        "max_sources": 8,
        "date": "2025-01-01",
    }
    assert answer_key(**base) != answer_key(**(base | change))  # type: ignore[arg-type]  # the dict mixes the keyword types


def test_keys_are_short_and_never_carry_the_raw_text() -> None:
    secret = "sk-live-do-not-log " * 20
    keys = [
        search_key("ddg", secret, "en"),
        page_key(f"https://example.org/{secret}"),
        rate_key(secret),
        answer_key(secret, language="en", engines=[], max_sources=None, date="2025-01-01"),
    ]
    assert all(len(key) < 80 and "sk-live" not in key for key in keys)
    assert len(set(keys)) == 4
    assert search_key("ddg", "a  b", "en") == search_key("ddg", "a b", "en")
    assert search_key("ddg", "A b", "en") != search_key("ddg", "a b", "en")


async def test_only_the_newest_finished_streams_are_kept() -> None:
    log = MemoryEventLog(stream_ttl_s=3600, max_finished=3)
    for number in range(5):
        await log.append(f"s{number}", "status", "event")
        await log.finish(f"s{number}")
    await log.append("running", "status", "event")
    kept = [(await log.read(f"s{n}", after=0)).exists for n in range(5)]
    assert kept == [False, False, True, True, True]
    assert (await log.read("running", after=0)).exists
