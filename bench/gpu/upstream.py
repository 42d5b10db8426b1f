"""Talking to SGLang directly: the raw client every measurement compares against, and its
``/metrics``, ``/flush_cache`` and ``/abort_request`` routes.

Works the same against a real server and ``tests.fakes.sglang``.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

RUNNING = "sglang:num_running_reqs"
QUEUED = "sglang:num_queue_reqs"
FINISHED = "sglang:num_requests_total"
ABORTED = "sglang:num_aborted_requests_total"
WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "was",
    "for",
    "on",
    "that",
    "with",
    "as",
    "by",
    "at",
    "from",
    "his",
    "her",
    "an",
    "which",
    "this",
    "be",
    "are",
    "or",
    "had",
    "not",
    "but",
    "were",
    "have",
    "it",
    "they",
    "one",
    "all",
    "city",
    "water",
    "garden",
    "street",
    "summer",
    "heat",
    "shade",
    "tree",
]


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text -> value per metric name, summed over its label sets."""
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_and_labels, _, rest = line.rpartition("}") if "}" in line else line.partition(" ")
        name = name_and_labels.split("{", 1)[0].strip()
        fields = rest.split()
        if not name or not fields:
            continue
        try:
            value = float(fields[0])
        except ValueError:
            continue
        totals[name] = totals.get(name, 0.0) + value
    return totals


def words_prompt(tokens: int, seed: int) -> str:
    """About ``tokens`` tokens of common English words (one token each in DeepSeek's BPE)."""
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(tokens))


def chat_body(model: str, prompt: str, max_tokens: int, **extra: Any) -> dict[str, Any]:
    """The request searchqa sends (one user message, DeepSeek's sampling), plus ``extra``."""
    return {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": max_tokens,
        "temperature": 0.6,
        "top_p": 0.95,
        **extra,
    }


@dataclass
class RawStream:
    """One streamed reply as a plain client sees it; seconds from sending the request."""

    status: int = 0
    ttft_s: float | None = None
    total_s: float = 0.0
    tokens: int = 0
    usage: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    lines: list[str] = field(default_factory=list)
    """Every ``data:`` line, when asked to keep them."""

    @property
    def decode_tok_s(self) -> float | None:
        """Tokens per second after the first one."""
        if self.ttft_s is None or self.tokens < 2 or self.total_s <= self.ttft_s:
            return None
        return (self.tokens - 1) / (self.total_s - self.ttft_s)


def _text_of(chunk: dict[str, Any]) -> str:
    text = ""
    for choice in chunk.get("choices") or []:
        delta = choice.get("delta") or {}
        text += (delta.get("reasoning_content") or "") + (delta.get("content") or "")
        text += choice.get("text") or ""
    return text


class StreamResult(Protocol):
    """What both clients record of a stream: the HTTP status, and the error if it failed."""

    status: int
    error: dict[str, Any] | None


async def data_lines(
    client: httpx.AsyncClient, url: str, body: dict[str, Any], result: StreamResult
) -> AsyncGenerator[str, None]:
    """The ``data:`` lines of a streamed POST; an HTTP error is recorded on ``result``
    instead. Closing the generator closes the response (a hang-up)."""
    async with client.stream("POST", url, json=body) as response:
        result.status = response.status_code
        if response.status_code >= 400:
            await response.aread()
            result.error = {"http_status": response.status_code, "body": response.text[:2000]}
            return
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                yield line


async def hold_until_cleared(flag: asyncio.Event) -> None:
    """Tell the caller the first token came (``flag`` set); wait until it clears the flag."""
    flag.set()
    while flag.is_set():  # noqa: ASYNC110 - the caller clears it
        await asyncio.sleep(0.01)


async def stream_raw(
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    *,
    keep_lines: bool = False,
    stop_after_first: asyncio.Event | None = None,
) -> RawStream:
    """Send ``body`` and read the whole stream (or, with ``stop_after_first``, until the first
    token: the event is set then, and the stream closed once the caller clears it)."""
    result = RawStream()
    started = time.perf_counter()
    async with aclosing(data_lines(client, url, body, result)) as lines:
        async for line in lines:
            if keep_lines:
                result.lines.append(line)
            payload = line[5:].strip()
            if payload == "[DONE]":
                break
            chunk = json.loads(payload)
            if chunk.get("error") or chunk.get("object") == "error":
                result.error = chunk
                continue
            if chunk.get("usage"):
                result.usage = chunk["usage"]
            if _text_of(chunk).strip():
                result.tokens += 1
                if result.ttft_s is None:
                    result.ttft_s = time.perf_counter() - started
                    if stop_after_first is not None:
                        await hold_until_cleared(stop_after_first)
                        break
    result.total_s = time.perf_counter() - started
    return result


class Upstream:
    """One SGLang server: its root URL (no /v1) and a client without connection limits."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
        self.client = httpx.AsyncClient(timeout=600, limits=limits, trust_env=False)
        self.model = "default"

    @property
    def chat_url(self) -> str:
        return self.root + "/v1/chat/completions"

    async def start(self) -> None:
        listing = (await self.client.get(self.root + "/v1/models")).json()
        self.model = str(listing["data"][0]["id"])

    async def metrics(self) -> dict[str, float]:
        response = await self.client.get(self.root + "/metrics")
        response.raise_for_status()
        return parse_metrics(response.text)

    async def flush_cache(self) -> bool:
        """Empty the radix cache (SGLang refuses while requests run, so wait for idle)."""
        for _ in range(100):
            response = await self.client.post(self.root + "/flush_cache", params={"timeout": 5})
            if response.status_code == 200:
                return True
            await asyncio.sleep(0.1)
        return False

    async def abort(self, rid: str) -> None:
        await self.client.post(self.root + "/abort_request", json={"rid": rid})

    async def wait_metric(
        self, name: str, *, at_most: float | None = None, at_least: float | None = None,
        timeout_s: float = 10.0, interval_s: float = 0.05,
    ) -> float | None:  # fmt: skip
        """Seconds until metric ``name`` is within the bounds; None after ``timeout_s``."""
        started = time.perf_counter()
        while time.perf_counter() - started < timeout_s:
            value = (await self.metrics()).get(name, 0.0)
            if (at_most is None or value <= at_most) and (at_least is None or value >= at_least):
                return time.perf_counter() - started
            await asyncio.sleep(interval_s)
        return None

    async def settle(self, name: str = FINISHED, quiet_s: float = 0.6) -> float:
        """The value of counter ``name`` once it has not moved for ``quiet_s``."""
        value = (await self.metrics()).get(name, 0.0)
        still_since = time.perf_counter()
        while time.perf_counter() - still_since < quiet_s:
            await asyncio.sleep(0.1)
            now = (await self.metrics()).get(name, 0.0)
            if now != value:
                value, still_since = now, time.perf_counter()
        return value

    async def aclose(self) -> None:
        await self.client.aclose()
