"""The roles of the HTTP service's shared state: caches, rate limits, streams, counters.

Two implementations play them: Redis (shared by every worker) and in-process (one worker).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, Protocol

CounterKey = tuple[str, tuple[tuple[str, str], ...]]
"""A counter's name and its labels, sorted by label name."""


@dataclass(frozen=True)
class RateDecision:
    """The verdict on one request: allowed or not, and what to put in RateLimit-* headers."""

    allowed: bool
    limit: int
    remaining: int
    reset_s: float
    """Seconds until the window ends (Retry-After when denied)."""


class LogEntry(NamedTuple):
    """One event of a stream: its seq, its type and its JSON, kept side by side so that
    readers route and encode it without parsing it again."""

    seq: int
    type: str
    data: str


@dataclass(frozen=True)
class EventBatch:
    """Events of one stream after a given seq, in order."""

    events: list[LogEntry]
    finished: bool
    """The writer called finish() and every event is in this batch or an earlier one."""
    exists: bool
    """Something was appended (or the stream was finished) and the TTL has not lapsed."""
    reachable: bool = True
    """False when the stream lives only in a Redis that cannot be reached right now:
    ``exists`` is then False but the stream may still be alive; ask again later."""


class KeyValueCache(Protocol):
    """Bytes by key, each with its own time to live."""

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, *, ttl_s: float) -> None: ...


class RateLimiter(Protocol):
    """Fixed-window request counter, atomic across workers.

    The window opens at a key's first hit and lasts ``window_s``; every hit in it counts,
    denied ones too, so a client hammering while denied does not get through sooner or later.
    """

    async def hit(self, key: str, *, limit: int, window_s: float) -> RateDecision: ...


class EventLog(Protocol):
    """Resumable event streams, shared by workers; one writer per stream.

    A stream comes into being with its first append (or finish) and expires ``stream_ttl_s``
    after the last write. Reading a stream that does not exist yet with ``block_s > 0`` waits for
    its first event, so a follower may start reading before its leader has written.
    """

    async def append(self, stream_id: str, event_type: str, data: str) -> int:
        """Add one event (its type and JSON); return its seq (1, 2, ...).

        Raises ValueError once finished."""
        ...

    async def finish(self, stream_id: str) -> None:
        """Mark the end of the stream; blocked readers wake."""
        ...

    async def read(self, stream_id: str, *, after: int, block_s: float = 0) -> EventBatch:
        """Events with seq > ``after``; with ``block_s > 0`` wait up to that long for news."""
        ...

    async def request_stop(self, stream_id: str) -> None: ...

    async def stop_requested(self, stream_id: str) -> bool: ...

    async def attach(self, stream_id: str, client_id: str, *, ttl_s: float) -> None:
        """Register or refresh a client; it counts as attached until ``ttl_s`` lapses."""
        ...

    async def detach(self, stream_id: str, client_id: str) -> None: ...

    async def attached(self, stream_id: str) -> int:
        """Clients attached now, from every worker."""
        ...


class SingleFlight(Protocol):
    """Lets identical requests share one generation."""

    async def claim(self, key: str, stream_id: str, *, ttl_s: float) -> str | None:
        """None: you lead (write ``stream_id``); otherwise the leader's stream id to follow."""
        ...

    async def release(self, key: str, stream_id: str) -> None:
        """Give up the claim, only if ``stream_id`` still holds it."""
        ...


class Counters(Protocol):
    """Monotonic metric counters summed over every worker."""

    async def incr(self, name: str, labels: Mapping[str, str], amount: float = 1) -> None: ...

    async def snapshot(self) -> dict[CounterKey, float]: ...


def counter_key(name: str, labels: Mapping[str, str]) -> CounterKey:
    """The snapshot key of a counter: labels sorted, so order never splits a series."""
    return name, tuple(sorted(labels.items()))


@dataclass
class StateBackend:
    """Everything the service shares between requests and workers."""

    cache: KeyValueCache
    limiter: RateLimiter
    events: EventLog
    flights: SingleFlight
    counters: Counters
    kind: Literal["redis", "memory"]
    probe: Callable[[], Awaitable[tuple[bool, str]]] | None = field(default=None, repr=False)
    closer: Callable[[], Awaitable[None]] | None = field(default=None, repr=False)

    async def health(self) -> tuple[bool, str]:
        """(ok, detail) for /readyz; never raises."""
        if self.probe is None:
            return True, "in-process state"
        return await self.probe()

    async def aclose(self) -> None:
        """Release connections."""
        if self.closer is not None:
            await self.closer()
