"""Asking ``searchqa serve`` over its SSE route, timed like the raw client in ``upstream``."""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import httpx

from bench.gpu.upstream import data_lines, hold_until_cleared

TOKEN_EVENTS = frozenset({"reasoning", "answer"})


@dataclass
class Answered:
    """One answer through the service; seconds from sending the request."""

    status: int = 0
    ttft_s: float | None = None
    """To the first ``reasoning`` or ``answer`` event: the model's first token."""
    total_s: float = 0.0
    done: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    events: int = 0

    @property
    def prompt_tokens(self) -> int | None:
        usage = (self.done or {}).get("usage") or {}
        value = usage.get("prompt_tokens")
        return int(value) if isinstance(value, int) else None

    @property
    def cached(self) -> bool:
        return bool((self.done or {}).get("cached"))


async def ask(
    client: httpx.AsyncClient,
    service_url: str,
    question: str,
    *,
    no_cache: bool = True,
    stop_after_first: asyncio.Event | None = None,
) -> Answered:
    """Ask ``question``; read to ``done``/``error`` (or, with ``stop_after_first``, hang up
    after the first token once the caller clears the event, as ``upstream.stream_raw`` does)."""
    result = Answered()
    started = time.perf_counter()
    body = {"query": question, "no_cache": no_cache}
    async with aclosing(data_lines(client, service_url + "/v1/answer", body, result)) as lines:
        async for line in lines:
            event = json.loads(line[5:])
            result.events += 1
            kind = event.get("type")
            if kind in TOKEN_EVENTS and result.ttft_s is None:
                result.ttft_s = time.perf_counter() - started
                if stop_after_first is not None:
                    await hold_until_cleared(stop_after_first)
                    break
            if kind == "done":
                result.done = event
            elif kind == "error":
                result.error = event
    result.total_s = time.perf_counter() - started
    return result
