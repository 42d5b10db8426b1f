"""Shared state of the HTTP service: Redis when configured, else in-process (one worker)."""

from __future__ import annotations

from searchqa.settings import RedisSettings
from searchqa.state.memory import build_memory_state
from searchqa.state.protocols import (
    Counters,
    EventBatch,
    EventLog,
    KeyValueCache,
    LogEntry,
    RateDecision,
    RateLimiter,
    SingleFlight,
    StateBackend,
)
from searchqa.state.resilient import build_resilient_state

__all__ = [
    "Counters",
    "EventBatch",
    "EventLog",
    "KeyValueCache",
    "LogEntry",
    "RateDecision",
    "RateLimiter",
    "SingleFlight",
    "StateBackend",
    "build_state",
]


def build_state(settings: RedisSettings) -> StateBackend:
    """Redis (degrading to in-process behaviour while it fails) or, without a URL, in-process.

    Connects lazily: building never fails and never waits for Redis.
    """
    if settings.url is None:
        return build_memory_state(stream_ttl_s=settings.stream_ttl_s)
    return build_resilient_state(settings)
