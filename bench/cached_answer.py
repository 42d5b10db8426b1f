"""Cached answer: how fast ``searchqa serve`` replays an answer from the answer cache.

One question is asked once through ``POST /v1/answer`` (SSE) to fill the cache, then
``repeats`` more times, one at a time on a kept-alive connection; each repeat must end with
``done`` and ``cached: true``. Per repeat: request sent -> first SSE event, and -> ``done``.
Baseline, same run, interleaved with the repeats (the order alternating): a ``GET /healthz``
round trip on the same kind of connection, i.e. what any request to this server costs.
The model (fake SGLang) and search (a fake SearXNG that finds nothing) run in their own
process. Reproduce with::

    python -m bench.cached_answer
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp

from bench.service import Service, client_session, run_service, service_env
from bench.simweb import WorldConfig, markdown_table, percentile, run_world
from tests.fakes.sglang import FakeSGLang

QUESTION = "How do community gardens cool city blocks?"


@dataclass(frozen=True, slots=True)
class CachedConfig:
    repeats: int = 200
    warm_up: int = 5


@dataclass(frozen=True, slots=True)
class CachedResult:
    runs: list[CachedRun]
    load_before: float
    """One-minute load average of the machine when the run started."""


@dataclass(frozen=True, slots=True)
class CachedRun:
    """Seconds from sending the request: to the first event, to ``done``; the health check."""

    first_event_s: float
    done_s: float
    events: int
    healthz_s: float


async def replay(session: aiohttp.ClientSession, service: Service) -> tuple[float, float, int]:
    """Ask the question; (first event, ``done``) seconds after sending, and the event count.

    Raises when the answer did not come from the answer cache.
    """
    started = time.perf_counter()
    first: float | None = None
    events = 0
    kind = b""
    async with session.post(service.url + "/v1/answer", json={"query": QUESTION}) as response:
        response.raise_for_status()
        async for line in response.content:
            if line.startswith(b"event: "):
                kind = line[7:].strip()
            if not line.startswith(b"data: "):
                continue
            now = time.perf_counter()
            events += 1
            first = first or now
            if kind == b"done":
                if json.loads(line[6:]).get("cached") is not True:
                    raise RuntimeError("the answer was not served from the answer cache")
                return first - started, now - started, events
    raise RuntimeError("the stream ended without done")


async def health_round_trip(session: aiohttp.ClientSession, service: Service) -> float:
    started = time.perf_counter()
    async with session.get(service.url + "/healthz") as response:
        response.raise_for_status()
        await response.read()
    return time.perf_counter() - started


async def measure_cached(config: CachedConfig) -> CachedResult:
    """Fill the cache once, then ``config.repeats`` replays paired with health checks."""
    load = os.getloadavg()[0]
    fake = FakeSGLang(answer="Gardens shade and water cool the blocks around them.")
    runs: list[CachedRun] = []
    with run_world(WorldConfig(llm=fake)) as world:
        async with run_service(service_env(world)) as service, client_session() as session:
            ask = session.post(service.url + "/v1/answer", json={"query": QUESTION})
            async with ask as response:
                await response.read()  # the whole stream: the answer is cached once it is done
            await asyncio.sleep(0.1)  # the cache is written just after `done` is sent
            for number in range(config.warm_up + config.repeats):
                if number % 2:
                    healthz = await health_round_trip(session, service)
                    first_event, done, events = await replay(session, service)
                else:
                    first_event, done, events = await replay(session, service)
                    healthz = await health_round_trip(session, service)
                if number >= config.warm_up:
                    runs.append(CachedRun(first_event, done, events, healthz))
    return CachedResult(runs, load)


def _ms(values: Sequence[float]) -> list[str]:
    return [f"{percentile(values, q) * 1000:.2f} ms" for q in (50, 90, 99)] + [
        f"{max(values) * 1000:.2f} ms"
    ]


def report(result: CachedResult) -> str:
    """A Markdown table and the target lines."""
    runs = result.runs
    first = [run.first_event_s for run in runs]
    done = [run.done_s for run in runs]
    health = [run.healthz_s for run in runs]
    rows = [
        ["ours: request -> first event (cached answer)", *_ms(first)],
        ["ours: request -> `done` (cached answer)", *_ms(done)],
        ["baseline: `GET /healthz` round trip", *_ms(health)],
        ["`done` - healthz, per pair", *_ms([d - h for d, h in zip(done, health, strict=True)])],
    ]
    lines = [
        f"{len(runs)} replays of a cached answer ({runs[0].events} events each), one at a time, "
        f"each paired with a health check; {os.cpu_count()} cores, load average before "
        f"{result.load_before:.2f}",
        "",
        markdown_table(["", "p50", "p90", "p99", "max"], rows),
        "",
    ]
    for name, values in (("first event", first), ("`done`", done)):
        p50 = percentile(values, 50)
        verdict = "met" if p50 < 0.010 else "MISSED"
        lines.append(f"target p50 to {name} < 10 ms: {verdict} ({p50 * 1000:.2f} ms)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cached_answer", description=__doc__)
    parser.add_argument("--repeats", type=int, default=CachedConfig().repeats)
    args = parser.parse_args(argv)
    print(report(asyncio.run(measure_cached(CachedConfig(repeats=args.repeats)))))


if __name__ == "__main__":
    main()
