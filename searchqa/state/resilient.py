"""Redis state that degrades instead of failing: a Redis outage never raises to callers.

While Redis is failing:

- cache: get misses, set does nothing;
- rate limiter: allows (``fail_closed``: denies, Retry-After = time to the next Redis retry);
- single-flight: every claimer leads;
- counters: kept in-process and added to Redis once it is back (snapshot = the last totals
  Redis reported + what is pending here, so the counters this process saw do not go backwards);
- event streams: every stream this process writes has a complete in-process copy from its first
  event, and Redis is a replica of it. Readers in this process read the copy, so an answer in
  progress keeps streaming to its own clients whatever Redis does, and streams started during
  the outage work for this process's clients. Events that could not reach Redis are sent as soon
  as it answers again (also after a Redis restart that lost everything), so clients of other
  workers see the whole stream late rather than never. Streams written by other workers are
  unreachable meanwhile: reads say ``reachable=False`` (blocking reads first wait out
  ``block_s`` in case Redis comes back); ``attached`` counts this process's clients only;
  a stop request reaches the writer only if it runs here.

Each failure is counted as ``state_errors{operation}`` (``cache.get``, ``limiter.hit``,
``events.append``, ``flights.claim``, ``counters.incr``, ``ping``, ...), logged (at most once per
``log_every_s`` per operation) and shown by ``health()``. After a failure Redis is left alone for
a back-off (``retry_min_s``, doubling to ``retry_max_s``); then one call probes it, and the first
success ends the outage. Completed local copies of replicated streams are dropped after a minute.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from searchqa.errors import CacheError
from searchqa.settings import RedisSettings
from searchqa.state.memory import MemoryEventLog
from searchqa.state.protocols import (
    CounterKey,
    EventBatch,
    RateDecision,
    StateBackend,
    counter_key,
)
from searchqa.state.redis import (
    RedisCache,
    RedisConnection,
    RedisCounters,
    RedisEventLog,
    RedisRateLimiter,
    RedisSingleFlight,
)

T = TypeVar("T")
log = logging.getLogger("searchqa.state")
_KEEP_REPLICATED_S = 60.0


class Unavailable:
    """Redis was skipped (backing off) or failed."""


UNAVAILABLE = Unavailable()


class RedisGuard:
    """Decides when to try Redis, and keeps score of its failures."""

    def __init__(
        self,
        conn: RedisConnection,
        *,
        errors: defaultdict[CounterKey, float],
        retry_min_s: float = 0.5,
        retry_max_s: float = 5.0,
        log_every_s: float = 30.0,
    ) -> None:
        self._conn = conn
        self._errors = errors
        self._retry_min_s, self._retry_max_s = retry_min_s, retry_max_s
        self._log_every_s = log_every_s
        self._backoff_s = retry_min_s
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._probing = False
        self._last_error = ""
        self._logged: dict[str, tuple[float, int]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.on_recovery: list[Callable[[], Coroutine[Any, Any, None]]] = []

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def retry_in(self) -> float:
        """Seconds until Redis may be tried again (0 when it is up)."""
        return max(0.0, self._retry_at - time.monotonic()) if self.down else 0.0

    async def attempt(self, operation: str, call: Callable[[], Awaitable[T]]) -> T | Unavailable:
        """``await call()``, or UNAVAILABLE when Redis fails or is being left alone."""
        probe = self.down
        if probe:
            if self._probing or time.monotonic() < self._retry_at:
                return UNAVAILABLE
            self._probing = True
        try:
            result = await call()
        except CacheError as exc:
            self._failed(operation, exc, probe=probe)
            return UNAVAILABLE
        finally:
            if probe:
                self._probing = False
        if probe:
            self._recovered()
        return result

    def _failed(self, operation: str, exc: CacheError, *, probe: bool) -> None:
        now = time.monotonic()
        self._last_error = exc.message
        self._errors[counter_key("state_errors", {"operation": operation})] += 1
        if probe:
            self._backoff_s = min(self._backoff_s * 2, self._retry_max_s)
            self._retry_at = now + self._backoff_s
        elif not self.down:
            self._down_since, self._backoff_s = now, self._retry_min_s
            self._retry_at = now + self._backoff_s
        if operation in self._logged:
            last, suppressed = self._logged[operation]
            if now - last < self._log_every_s:
                self._logged[operation] = (last, suppressed + 1)
                return
        else:
            suppressed = 0
        self._logged[operation] = (now, 0)
        more = f" ({suppressed} more since the last report)" if suppressed else ""
        log.warning("%s; degrading until Redis answers again%s", exc.message, more)

    def _recovered(self) -> None:
        assert self._down_since is not None
        log.info("redis reachable again after %.1fs", time.monotonic() - self._down_since)
        self._down_since, self._backoff_s, self._logged = None, self._retry_min_s, {}
        for hook in self.on_recovery:
            task = asyncio.create_task(hook())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def describe(self, fail_closed: bool) -> str:
        if self._down_since is None:
            return f"redis {self._conn.url}: ok"
        return (
            f"redis {self._conn.url} failing for {time.monotonic() - self._down_since:.0f}s "
            f"({self._last_error}); degraded: no cache, no single-flight, rate limits "
            f"{'deny' if fail_closed else 'allow'} all, streams in-process; "
            f"next retry in {self.retry_in():.1f}s"
        )


class ResilientCache:
    def __init__(self, remote: RedisCache, guard: RedisGuard) -> None:
        self._remote, self._guard = remote, guard

    async def get(self, key: str) -> bytes | None:
        found = await self._guard.attempt("cache.get", lambda: self._remote.get(key))
        return None if isinstance(found, Unavailable) else found

    async def set(self, key: str, value: bytes, *, ttl_s: float) -> None:
        await self._guard.attempt("cache.set", lambda: self._remote.set(key, value, ttl_s=ttl_s))


class ResilientRateLimiter:
    def __init__(self, remote: RedisRateLimiter, guard: RedisGuard, *, fail_closed: bool):
        self._remote, self._guard, self._fail_closed = remote, guard, fail_closed

    async def hit(self, key: str, *, limit: int, window_s: float) -> RateDecision:
        decision = await self._guard.attempt(
            "limiter.hit", lambda: self._remote.hit(key, limit=limit, window_s=window_s)
        )
        if not isinstance(decision, Unavailable):
            return decision
        if self._fail_closed:
            return RateDecision(False, limit, 0, max(1.0, self._guard.retry_in()))
        return RateDecision(True, limit, max(0, limit - 1), window_s)


class ResilientSingleFlight:
    def __init__(self, remote: RedisSingleFlight, guard: RedisGuard) -> None:
        self._remote, self._guard = remote, guard

    async def claim(self, key: str, stream_id: str, *, ttl_s: float) -> str | None:
        leader = await self._guard.attempt(
            "flights.claim", lambda: self._remote.claim(key, stream_id, ttl_s=ttl_s)
        )
        return None if isinstance(leader, Unavailable) else leader

    async def release(self, key: str, stream_id: str) -> None:
        await self._guard.attempt("flights.release", lambda: self._remote.release(key, stream_id))


class ResilientCounters:
    def __init__(
        self, remote: RedisCounters, guard: RedisGuard, pending: defaultdict[CounterKey, float]
    ) -> None:
        self._remote, self._guard, self._pending = remote, guard, pending
        self._last: dict[CounterKey, float] = {}

    async def incr(self, name: str, labels: Mapping[str, str], amount: float = 1) -> None:
        self._pending[counter_key(name, labels)] += amount
        await self.flush()

    async def flush(self) -> None:
        """Send what is pending here to Redis; keep it if Redis fails."""
        if not self._pending:
            return
        batch = dict(self._pending)
        self._pending.clear()
        totals = await self._guard.attempt("counters.incr", lambda: self._remote.add_all(batch))
        if isinstance(totals, Unavailable):
            for key, amount in batch.items():
                self._pending[key] += amount
        else:
            self._last.update(totals)

    async def snapshot(self) -> dict[CounterKey, float]:
        await self.flush()
        values = await self._guard.attempt("counters.snapshot", self._remote.snapshot)
        if not isinstance(values, Unavailable):
            self._last = values
            return dict(values)
        merged = dict(self._last)
        for key, amount in self._pending.items():
            merged[key] = merged.get(key, 0.0) + amount
        return merged


@dataclass
class _Replica:
    """How far Redis has the copy of a stream written here."""

    synced: int = 0
    done: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class ResilientEventLog:
    """Streams written here live in memory first and are replicated to Redis."""

    def __init__(self, remote: RedisEventLog, guard: RedisGuard, *, stream_ttl_s: float):
        self._remote, self._guard = remote, guard
        self._local = MemoryEventLog(stream_ttl_s=stream_ttl_s)
        self._replicas: dict[str, _Replica] = {}

    async def append(self, stream_id: str, event_type: str, data: str) -> int:
        seq = await self._local.append(stream_id, event_type, data)
        await self._replicate(stream_id)
        return seq

    async def finish(self, stream_id: str) -> None:
        await self._local.finish(stream_id)
        # Once finish returns, readers on other workers must see the end: wait for a push under way.
        await self._replicate(stream_id, wait=True)

    async def _replicate(self, stream_id: str, *, wait: bool = False) -> None:
        replica = self._replicas.get(stream_id)
        if replica is None:
            self._forget_lapsed()
            replica = self._replicas[stream_id] = _Replica()
        if replica.lock.locked() and not wait:
            return  # the push under way loops until it has sent this too
        async with replica.lock:
            stalls = 0
            while stalls < 2:
                events, finished = self._local.events_after(stream_id, replica.synced)
                if not events and (replica.done or not finished):
                    break
                first = replica.synced + 1
                push = partial(self._remote.extend, stream_id, first, events, finish=finished)
                reply = await self._guard.attempt("events.append", push)
                if isinstance(reply, Unavailable):
                    return
                last, replica.done, _ = reply
                before, replica.synced = replica.synced, min(last, first - 1 + len(events))
                if replica.done:
                    break
                stalls = stalls + 1 if replica.synced <= before else 0
        if replica.done:
            self._replicas.pop(stream_id, None)
            self._local.keep_for(stream_id, _KEEP_REPLICATED_S)

    def _forget_lapsed(self) -> None:
        """Drop replicas of streams whose local copy expired (a writer that never finished)."""
        self._replicas = {
            stream_id: replica
            for stream_id, replica in self._replicas.items()
            if self._local.has(stream_id) or replica.lock.locked()
        }

    async def resync(self) -> None:
        """Send Redis whatever it missed of the streams written here."""
        self._forget_lapsed()
        for stream_id in list(self._replicas):
            await self._replicate(stream_id)

    async def read(self, stream_id: str, *, after: int, block_s: float = 0) -> EventBatch:
        deadline = time.monotonic() + block_s
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            if self._local.has(stream_id):
                return await self._local.read(stream_id, after=after, block_s=remaining)
            # While Redis is down a read may be the probe: keep it short, block once it is back.
            wait = 0.0 if self._guard.down else remaining
            pull = partial(self._remote.read, stream_id, after=after, block_s=wait)
            batch = await self._guard.attempt("events.read", pull)
            if isinstance(batch, Unavailable):
                if remaining <= 0:
                    return EventBatch([], finished=False, exists=False, reachable=False)
                await asyncio.sleep(min(remaining, max(self._guard.retry_in(), 0.05)))
            elif batch.events or batch.finished or wait == remaining:
                return batch

    async def request_stop(self, stream_id: str) -> None:
        if self._local.has(stream_id):
            await self._local.request_stop(stream_id)
        await self._guard.attempt("events.stop", lambda: self._remote.request_stop(stream_id))

    async def stop_requested(self, stream_id: str) -> bool:
        if await self._local.stop_requested(stream_id):
            return True
        stop = await self._guard.attempt(
            "events.stop", lambda: self._remote.stop_requested(stream_id)
        )
        return stop is True

    async def attach(self, stream_id: str, client_id: str, *, ttl_s: float) -> None:
        await self._local.attach(stream_id, client_id, ttl_s=ttl_s)
        await self._guard.attempt(
            "events.attach", lambda: self._remote.attach(stream_id, client_id, ttl_s=ttl_s)
        )

    async def detach(self, stream_id: str, client_id: str) -> None:
        await self._local.detach(stream_id, client_id)
        await self._guard.attempt(
            "events.attach", lambda: self._remote.detach(stream_id, client_id)
        )

    async def attached(self, stream_id: str) -> int:
        count = await self._guard.attempt("events.attach", lambda: self._remote.attached(stream_id))
        if isinstance(count, Unavailable):
            return await self._local.attached(stream_id)
        return count


def build_resilient_state(
    settings: RedisSettings, *, retry_min_s: float = 0.5, retry_max_s: float = 5.0
) -> StateBackend:
    """Redis state that degrades to in-process behaviour while Redis fails."""
    conn = RedisConnection(settings)
    pending: defaultdict[CounterKey, float] = defaultdict(float)
    guard = RedisGuard(conn, errors=pending, retry_min_s=retry_min_s, retry_max_s=retry_max_s)
    events = ResilientEventLog(
        RedisEventLog(conn, stream_ttl_s=settings.stream_ttl_s),
        guard,
        stream_ttl_s=settings.stream_ttl_s,
    )
    counters = ResilientCounters(RedisCounters(conn), guard, pending)
    guard.on_recovery += [events.resync, counters.flush]

    async def probe() -> tuple[bool, str]:
        pong = await guard.attempt("ping", conn.ping)
        return not isinstance(pong, Unavailable), guard.describe(settings.fail_closed)

    return StateBackend(
        cache=ResilientCache(RedisCache(conn), guard),
        limiter=ResilientRateLimiter(
            RedisRateLimiter(conn), guard, fail_closed=settings.fail_closed
        ),
        events=events,
        flights=ResilientSingleFlight(RedisSingleFlight(conn), guard),
        counters=counters,
        kind="redis",
        probe=probe,
        closer=conn.aclose,
    )
