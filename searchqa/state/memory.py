"""In-process state: the same roles as Redis, for a single worker (and as Redis' fallback).

Expiry uses a monotonic clock; expired entries are dropped when touched and swept now and then,
so memory stays bounded by what is alive.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from searchqa.state.protocols import (
    CounterKey,
    EventBatch,
    LogEntry,
    RateDecision,
    StateBackend,
    counter_key,
)

Clock = Callable[[], float]
_SWEEP_EVERY_S = 30.0


class _Sweeper:
    """Calls ``sweep`` at most once per interval, from whichever operation comes first."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._next = clock() + _SWEEP_EVERY_S

    def due(self) -> bool:
        now = self._clock()
        if now < self._next:
            return False
        self._next = now + _SWEEP_EVERY_S
        return True


class MemoryCache:
    """LRU cache bounded by total value bytes, with per-entry TTL."""

    def __init__(self, *, max_bytes: int = 128 * 1024 * 1024, clock: Clock = time.monotonic):
        self._entries: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self._bytes = 0
        self._max_bytes = max_bytes
        self._clock = clock

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry[0]

    async def set(self, key: str, value: bytes, *, ttl_s: float) -> None:
        self._drop(key)
        if len(value) > self._max_bytes:
            return
        self._entries[key] = (value, self._clock() + ttl_s)
        self._bytes += len(value)
        while self._bytes > self._max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry[0])


class MemoryRateLimiter:
    """Fixed window per key, opened by the key's first hit (same rule as Redis)."""

    def __init__(self, *, clock: Clock = time.monotonic) -> None:
        self._windows: dict[str, tuple[int, float]] = {}
        self._clock = clock
        self._sweeper = _Sweeper(clock)

    async def hit(self, key: str, *, limit: int, window_s: float) -> RateDecision:
        now = self._clock()
        if self._sweeper.due():
            self._windows = {k: w for k, w in self._windows.items() if w[1] > now}
        count, ends = self._windows.get(key, (0, 0.0))
        if ends <= now:
            count, ends = 0, now + window_s
        count += 1
        self._windows[key] = (count, ends)
        return RateDecision(count <= limit, limit, max(0, limit - count), ends - now)


@dataclass
class _Stream:
    expires: float
    events: list[tuple[str, str]] = field(default_factory=list)
    """(type, JSON) of each event, seq 1 first."""
    finished: bool = False
    stop: bool = False
    clients: dict[str, float] = field(default_factory=dict)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)
    """Blocked readers, each woken once by the next append or the finish; a stream they wait
    on is never dropped under them."""

    @property
    def exists(self) -> bool:
        return bool(self.events) or self.finished

    def alive(self, now: float) -> bool:
        return self.expires > now or bool(self.waiters)

    def wake(self) -> None:
        """Wake every blocked reader (one future each: cheaper per event than a Condition)."""
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            _wake_one(waiter)


def _wake_one(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


MAX_FINISHED_STREAMS = 2000
"""Finished streams kept for replay in one process (the oldest go first, TTL or not): about
5 KB each, so memory stays bounded however long the TTL."""


class MemoryEventLog:
    """Streams in a dict; blocked readers wait on futures the next write resolves.

    Reading never creates a stream, so unknown ids cost nothing; a blocking read of a stream
    that has not started yet holds a placeholder only while it waits.
    """

    def __init__(
        self,
        *,
        stream_ttl_s: float = 3600.0,
        clock: Clock = time.monotonic,
        max_finished: int = MAX_FINISHED_STREAMS,
    ) -> None:
        self._streams: dict[str, _Stream] = {}
        self._ttl_s = stream_ttl_s
        self._clock = clock
        self._sweeper = _Sweeper(clock)
        self._finished: dict[str, None] = {}  # insertion-ordered: oldest first
        self._max_finished = max_finished

    def _find(self, stream_id: str) -> _Stream | None:
        now = self._clock()
        if self._sweeper.due():
            self._streams = {k: s for k, s in self._streams.items() if s.alive(now)}
        stream = self._streams.get(stream_id)
        if stream is not None and not stream.alive(now):
            del self._streams[stream_id]
            return None
        return stream

    def _stream(self, stream_id: str, *, ttl_s: float) -> _Stream:
        stream = self._find(stream_id)
        if stream is None:
            stream = self._streams[stream_id] = _Stream(expires=self._clock() + ttl_s)
        return stream

    async def append(self, stream_id: str, event_type: str, data: str) -> int:
        stream = self._stream(stream_id, ttl_s=self._ttl_s)
        if stream.finished:
            raise ValueError(f"stream {stream_id} is finished")
        stream.events.append((event_type, data))
        stream.expires = self._clock() + self._ttl_s
        if stream.waiters:
            stream.wake()
        return len(stream.events)

    async def finish(self, stream_id: str) -> None:
        stream = self._stream(stream_id, ttl_s=self._ttl_s)
        stream.finished = True
        stream.expires = self._clock() + self._ttl_s
        stream.wake()
        self._finished[stream_id] = None
        while len(self._finished) > self._max_finished:
            oldest = next(iter(self._finished))
            del self._finished[oldest]
            self._streams.pop(oldest, None)

    async def read(self, stream_id: str, *, after: int, block_s: float = 0) -> EventBatch:
        after = max(after, 0)
        stream = self._find(stream_id)
        news = stream is not None and (len(stream.events) > after or stream.finished)
        if block_s > 0 and not news:
            stream = stream or self._stream(stream_id, ttl_s=0)
            await self._wait(stream, after, block_s)
            if not stream.alive(self._clock()) and self._streams.get(stream_id) is stream:
                del self._streams[stream_id]  # a placeholder nobody wrote to
        if stream is None:
            return EventBatch([], finished=False, exists=False)
        logged = stream.events
        events = [
            LogEntry(seq, logged[seq - 1][0], logged[seq - 1][1])
            for seq in range(after + 1, len(logged) + 1)
        ]
        return EventBatch(events, stream.finished, stream.exists)

    @staticmethod
    async def _wait(stream: _Stream, after: int, block_s: float) -> None:
        """Until an event after ``after`` or the end is logged, at most ``block_s``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + block_s
        while len(stream.events) <= after and not stream.finished:
            left = deadline - loop.time()
            if left <= 0:
                return
            waiter = loop.create_future()
            stream.waiters.append(waiter)
            timer = loop.call_later(left, _wake_one, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                if waiter in stream.waiters:  # timed out or cancelled: leave no stale waiter
                    stream.waiters.remove(waiter)

    async def request_stop(self, stream_id: str) -> None:
        self._stream(stream_id, ttl_s=self._ttl_s).stop = True

    async def stop_requested(self, stream_id: str) -> bool:
        stream = self._find(stream_id)
        return stream is not None and stream.stop

    async def attach(self, stream_id: str, client_id: str, *, ttl_s: float) -> None:
        stream = self._stream(stream_id, ttl_s=ttl_s)
        until = self._clock() + ttl_s
        stream.clients[client_id] = until
        stream.expires = max(stream.expires, until)

    async def detach(self, stream_id: str, client_id: str) -> None:
        stream = self._find(stream_id)
        if stream is not None:
            stream.clients.pop(client_id, None)

    async def attached(self, stream_id: str) -> int:
        stream = self._find(stream_id)
        if stream is None:
            return 0
        now = self._clock()
        stream.clients = {c: until for c, until in stream.clients.items() if until > now}
        return len(stream.clients)

    def __len__(self) -> int:
        """Streams held (expired ones may linger until the next sweep)."""
        return len(self._streams)

    def has(self, stream_id: str) -> bool:
        """Whether this log holds events (or the end) of ``stream_id``."""
        stream = self._find(stream_id)
        return stream is not None and stream.exists

    def events_after(self, stream_id: str, after: int) -> tuple[list[tuple[str, str]], bool]:
        """The (type, JSON) of each event after seq ``after``, and whether the stream is
        finished."""
        stream = self._find(stream_id)
        if stream is None:
            return [], False
        return stream.events[after:], stream.finished

    def keep_for(self, stream_id: str, ttl_s: float) -> None:
        """Let ``stream_id`` expire ``ttl_s`` from now if that is sooner than planned."""
        stream = self._find(stream_id)
        if stream is not None:
            stream.expires = min(stream.expires, self._clock() + ttl_s)


class MemorySingleFlight:
    """Claims in a dict, each lapsing after its TTL."""

    def __init__(self, *, clock: Clock = time.monotonic) -> None:
        self._claims: dict[str, tuple[str, float]] = {}
        self._clock = clock
        self._sweeper = _Sweeper(clock)

    async def claim(self, key: str, stream_id: str, *, ttl_s: float) -> str | None:
        now = self._clock()
        if self._sweeper.due():
            self._claims = {k: c for k, c in self._claims.items() if c[1] > now}
        held = self._claims.get(key)
        if held is not None and held[1] > now and held[0] != stream_id:
            return held[0]
        self._claims[key] = (stream_id, now + ttl_s)
        return None

    async def release(self, key: str, stream_id: str) -> None:
        held = self._claims.get(key)
        if held is not None and held[0] == stream_id:
            del self._claims[key]


class MemoryCounters:
    """Counters in a dict."""

    def __init__(self) -> None:
        self._values: defaultdict[CounterKey, float] = defaultdict(float)

    async def incr(self, name: str, labels: Mapping[str, str], amount: float = 1) -> None:
        self.add(counter_key(name, labels), amount)

    def add(self, key: CounterKey, amount: float) -> None:
        """Synchronous increment, for callers that must not await."""
        self._values[key] += amount

    async def snapshot(self) -> dict[CounterKey, float]:
        return dict(self._values)


def build_memory_state(*, stream_ttl_s: float = 3600.0) -> StateBackend:
    """In-process state for a single worker."""
    return StateBackend(
        cache=MemoryCache(),
        limiter=MemoryRateLimiter(),
        events=MemoryEventLog(stream_ttl_s=stream_ttl_s),
        flights=MemorySingleFlight(),
        counters=MemoryCounters(),
        kind="memory",
    )
