"""The measurements, each against SGLang alone in the same run.

Every function takes the ``Upstream`` (SGLang, asked directly) and, where the service is under
test, a ``searchqa serve`` URL, and returns a JSON-ready dict. Prompts for the raw client are the
ones the service sends, so both sides make SGLang do the same work.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx

from bench.gpu.through import Answered, ask
from bench.gpu.upstream import (
    ABORTED,
    QUEUED,
    RUNNING,
    RawStream,
    Upstream,
    chat_body,
    stream_raw,
    words_prompt,
)
from bench.simweb import percentile


def summary(values: Sequence[float]) -> dict[str, float]:
    """p50, p90 and max in milliseconds."""
    return {
        "p50_ms": percentile(values, 50) * 1000,
        "p90_ms": percentile(values, 90) * 1000,
        "max_ms": max(values) * 1000 if values else float("nan"),
        "n": len(values),
    }


def overhead(ours: Sequence[float], raw: Sequence[float]) -> dict[str, Any]:
    """Ours against raw at p50 and p90: milliseconds added and share of SGLang's own TTFT."""
    result: dict[str, Any] = {"ours": summary(ours), "raw": summary(raw)}
    for q in (50, 90):
        base, mine = percentile(raw, q), percentile(ours, q)
        result[f"p{q}_added_ms"] = (mine - base) * 1000
        result[f"p{q}_share"] = (mine - base) / base if base > 0 else float("nan")
    return result


async def _both(
    upstream: Upstream,
    ours: Callable[[], Awaitable[list[Answered]]],
    raw: Callable[[], Awaitable[list[RawStream]]],
    *,
    ours_first: bool,
    cold: bool,
) -> tuple[list[Answered], list[RawStream]]:
    """Run both sides one after the other: each on an empty radix cache when ``cold``, else
    each right after the raw prompts were sent once unmeasured (so both find them cached,
    the service only if it sends exactly the prompt the raw client does)."""
    mine: list[Answered] = []
    theirs: list[RawStream] = []
    for side in ("ours", "raw") if ours_first else ("raw", "ours"):
        if cold:
            await upstream.flush_cache()
        else:
            await raw()
        if side == "ours":
            mine = await ours()
        else:
            theirs = await raw()
    return mine, theirs


async def first_token(
    upstream: Upstream,
    client: httpx.AsyncClient,
    service_url: str,
    prompts: dict[str, str],
    *,
    concurrency: int,
    rounds: int,
    max_tokens: int,
    cold: bool,
) -> dict[str, Any]:
    """TTFT through the service against a raw client sending the same prompt.

    Each round takes ``concurrency`` questions at once on both sides (order alternating by
    round; see ``_both`` for cold and warm). Also checks that SGLang counted the same prompt
    tokens for both, and keeps every measured pair (``pairs_ms``: ours, raw).
    """
    questions = list(prompts)
    ours_ttft: list[float] = []
    raw_ttft: list[float] = []
    fetch_ms: list[float] = []
    server_ttft: list[float] = []
    matched = mismatched = failed = 0
    for number in range(rounds):
        batch = [questions[(number * concurrency + i) % len(questions)] for i in range(concurrency)]

        async def ours(batch: list[str] = batch) -> list[Answered]:
            return list(await asyncio.gather(*(ask(client, service_url, q) for q in batch)))

        async def raw(batch: list[str] = batch) -> list[RawStream]:
            bodies = [chat_body(upstream.model, prompts[q], max_tokens) for q in batch]
            streams = (stream_raw(upstream.client, upstream.chat_url, b) for b in bodies)
            return list(await asyncio.gather(*streams))

        mine, theirs = await _both(upstream, ours, raw, ours_first=number % 2 == 0, cold=cold)
        for answered, streamed in zip(mine, theirs, strict=True):
            if answered.ttft_s is None or streamed.ttft_s is None:
                failed += 1
                continue
            ours_ttft.append(answered.ttft_s)
            raw_ttft.append(streamed.ttft_s)
            timings = (answered.done or {}).get("timings") or {}
            if isinstance(timings.get("fetch_ms"), int | float):
                fetch_ms.append(timings["fetch_ms"] / 1000)
            if isinstance(timings.get("first_token_ms"), int | float):
                server_ttft.append(timings["first_token_ms"] / 1000)
            if answered.prompt_tokens == (streamed.usage or {}).get("prompt_tokens"):
                matched += 1
            else:
                mismatched += 1
    result = overhead(ours_ttft, raw_ttft)
    result |= {
        "pairs_ms": [
            [round(a * 1000, 1), round(b * 1000, 1)]
            for a, b in zip(ours_ttft, raw_ttft, strict=True)
        ],
        "concurrency": concurrency,
        "cold": cold,
        "prompt_tokens_equal": matched,
        "prompt_tokens_differ": mismatched,
        "failed": failed,
        "service_search_and_fetch": summary(fetch_ms) if fetch_ms else None,
        "service_first_token": summary(server_ttft) if server_ttft else None,
    }
    return result


async def prompt_curve(
    upstream: Upstream, *, sizes: Sequence[int], reps: int, concurrency: int
) -> list[dict[str, Any]]:
    """SGLang alone: TTFT against prompt size, cold and radix-warm, one at a time and at once."""
    rows = []
    for size in sizes:
        cold: list[float] = []
        warm: list[float] = []
        tokens = 0
        for rep in range(reps):
            body = chat_body(upstream.model, words_prompt(size, seed=size * 100 + rep), 16)
            await upstream.flush_cache()
            first = await stream_raw(upstream.client, upstream.chat_url, body)
            again = await stream_raw(upstream.client, upstream.chat_url, body)
            if first.ttft_s is not None and again.ttft_s is not None:
                cold.append(first.ttft_s)
                warm.append(again.ttft_s)
            tokens = int((first.usage or {}).get("prompt_tokens") or tokens)
        await upstream.flush_cache()
        bodies = [
            chat_body(upstream.model, words_prompt(size, seed=size * 1000 + i), 16)
            for i in range(concurrency)
        ]
        crowd = await asyncio.gather(
            *(stream_raw(upstream.client, upstream.chat_url, body) for body in bodies)
        )
        together = [s.ttft_s for s in crowd if s.ttft_s is not None]
        rows.append(
            {
                "prompt_tokens": tokens,
                "cold": summary(cold),
                "warm": summary(warm),
                f"cold_x{concurrency}": summary(together),
            }
        )
    return rows


async def decode_rate(upstream: Upstream, *, tokens: int, concurrency: int) -> dict[str, Any]:
    """Output tokens per second, one stream and ``concurrency`` streams (8k-token prompts)."""
    body = chat_body(upstream.model, words_prompt(8000, seed=7), tokens, ignore_eos=True)
    single = await stream_raw(upstream.client, upstream.chat_url, body)
    bodies = [
        chat_body(upstream.model, words_prompt(8000, seed=70 + i), tokens, ignore_eos=True)
        for i in range(concurrency)
    ]
    started = time.perf_counter()
    crowd = await asyncio.gather(
        *(stream_raw(upstream.client, upstream.chat_url, b) for b in bodies)
    )
    wall = time.perf_counter() - started
    return {
        "single_tok_s": single.decode_tok_s,
        "single_tokens": single.tokens,
        f"x{concurrency}_total_tok_s": sum(s.tokens for s in crowd) / wall,
    }


async def single_flight(
    upstream: Upstream,
    client: httpx.AsyncClient,
    service_url: str,
    question: str,
    prompt: str,
    *,
    copies: int,
    max_tokens: int,
) -> dict[str, Any]:
    """Identical questions at once share one generation; a repeat is replayed from the cache.

    Counted by SGLang: ``sglang:num_requests_total`` before and after each step.
    """
    before = await upstream.settle()
    together = await asyncio.gather(
        *(ask(client, service_url, question, no_cache=False) for _ in range(copies))
    )
    after_together = await upstream.settle()
    replay = await ask(client, service_url, question, no_cache=False)
    after_replay = await upstream.settle()
    body = chat_body(upstream.model, prompt, max_tokens)
    raw = await asyncio.gather(
        *(stream_raw(upstream.client, upstream.chat_url, body) for _ in range(copies))
    )
    after_raw = await upstream.settle()
    return {
        "copies": copies,
        "ours_done": sum(a.done is not None for a in together),
        "ours_sglang_requests": after_together - before,
        "replay_cached": replay.cached,
        "replay_sglang_requests": after_replay - after_together,
        "replay_done_ms": replay.total_s * 1000,
        "ours_done_ms": summary([a.total_s for a in together]),
        "raw_sglang_requests": after_raw - after_replay,
        "raw_done_ms": summary([r.total_s for r in raw]),
    }


async def _hang_up(
    upstream: Upstream, start: Callable[[asyncio.Event], Awaitable[object]], rid: str | None
) -> dict[str, Any]:
    """Start a long stream, hang up after its first token, time SGLang's running gauge."""
    base = await upstream.metrics()
    flag = asyncio.Event()
    task = asyncio.ensure_future(start(flag))
    await asyncio.wait_for(flag.wait(), 120)
    seen = await upstream.wait_metric(RUNNING, at_least=base.get(RUNNING, 0) + 1, timeout_s=5)
    flag.clear()  # the reader closes its stream now
    closed = time.perf_counter()
    with contextlib.suppress(Exception):
        await task
    if rid is not None:
        await upstream.abort(rid)
    drop = await upstream.wait_metric(RUNNING, at_most=base.get(RUNNING, 0), timeout_s=20)
    dropped_after = time.perf_counter() - closed
    after = await upstream.metrics()
    return {
        "gauge_rose": seen is not None,
        "gauge_drop_s": None if drop is None else dropped_after,
        "aborted_counted": after.get(ABORTED, 0) - base.get(ABORTED, 0),
    }


async def disconnect(
    upstream: Upstream,
    client: httpx.AsyncClient,
    service_url: str,
    question: str,
    prompt: str,
    *,
    max_tokens: int,
) -> dict[str, Any]:
    """A client that hangs up mid-answer: how soon SGLang stops generating for it."""

    async def ours(flag: asyncio.Event) -> object:
        return await ask(client, service_url, question, stop_after_first=flag)

    async def raw(flag: asyncio.Event) -> object:
        body = chat_body(upstream.model, prompt, max_tokens)
        return await stream_raw(upstream.client, upstream.chat_url, body, stop_after_first=flag)

    rid = uuid.uuid4().hex

    async def raw_abort(flag: asyncio.Event) -> object:
        body = chat_body(upstream.model, prompt, max_tokens, rid=rid)
        return await stream_raw(upstream.client, upstream.chat_url, body, stop_after_first=flag)

    return {
        "ours": await _hang_up(upstream, ours, None),
        "raw": await _hang_up(upstream, raw, None),
        "raw_then_abort_request": await _hang_up(upstream, raw_abort, rid),
    }


async def queue_full(
    upstream: Upstream,
    client: httpx.AsyncClient,
    service_url: str,
    question: str,
    *,
    burst: int,
    burst_tokens: int,
    attempts: int = 3,
) -> dict[str, Any]:
    """Fill SGLang's waiting queue with a burst, then ask the service: a retryable error."""
    result: dict[str, Any] = {"attempts": []}
    for attempt in range(attempts):
        seeds = range(9000 + attempt * burst, 9000 + (attempt + 1) * burst)
        bodies = [chat_body(upstream.model, words_prompt(burst_tokens, seed), 16) for seed in seeds]
        crowd = [
            asyncio.ensure_future(
                stream_raw(upstream.client, upstream.chat_url, b, keep_lines=True)
            )
            for b in bodies
        ]
        seen = await upstream.wait_metric(QUEUED, at_least=1, timeout_s=10, interval_s=0.01)
        flag = asyncio.Event()
        mine = asyncio.ensure_future(ask(client, service_url, question, stop_after_first=flag))
        waiter = asyncio.ensure_future(flag.wait())
        await asyncio.wait([mine, waiter], timeout=120, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        flag.clear()
        answered = await mine
        raw = await asyncio.gather(*crowd)
        refused = [s for s in raw if s.error]
        result["attempts"].append(
            {
                "queue_seen": seen is not None,
                "raw_refused": len(refused),
                "raw_completed": sum(s.usage is not None and s.error is None for s in raw),
                "ours_error": answered.error,
                "ours_got_tokens": answered.ttft_s is not None,
            }
        )
        if refused and "raw_refusal_lines" not in result:
            result["raw_refusal_lines"] = refused[0].lines
            result["raw_refusal_status"] = refused[0].status
        if answered.error is not None:
            break
        await upstream.flush_cache()
    return result
