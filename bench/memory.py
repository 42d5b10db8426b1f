"""Memory: does ``searchqa serve`` stay the same size over 10,000 requests?

One worker (its own process) answers a fixed mix of ``POST /v1/answer`` streams from
``concurrency`` clients at once, every request read to its end. Of every 20 requests: 12 ask
one of 10 recurring questions (after the first time, answer-cache hits), 6 ask a new question
(a fresh answer), 1 asks a question the model server fails on (HTTP 500 from the fake SGLang:
an ``error`` event) and 1 is invalid (an unknown field: 422). The fake SGLang replies at once
with a short answer; search is a fake SearXNG that finds nothing (no page fetches); both run
in another process. The server's RSS (VmRSS of /proc/<pid>/status) is read after startup
(baseline) and after each checkpoint, once the requests before it have ended. Reproduce with::

    python -m bench.memory
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiohttp

from bench.service import (
    Service,
    State,
    client_session,
    rss_bytes,
    run_service,
    service_env,
    state_env,
)
from bench.simweb import World, WorldConfig, markdown_table, run_world
from tests.fakes.sglang import FakeSGLang

MB = 1024 * 1024
FAILING_TOPIC = "model-breaking"
REASONING = "Okay, short and direct."
ANSWER = "Gardens shade the ground and evaporate water, so the blocks around them stay cooler."


class ScriptedFailureError(RuntimeError):
    """Raised by the fake model server for the questions meant to fail."""


def scripted_reply(prompt: str) -> tuple[str, str]:
    """The fake model's reply; a server error for prompts about the failing topic."""
    if FAILING_TOPIC in prompt:
        raise ScriptedFailureError("scripted model failure")
    return REASONING, ANSWER


def request_body(number: int) -> dict[str, object]:
    """The ``number``-th request of the mix (see the module docstring)."""
    slot = number % 20
    if slot < 12:
        return {"query": f"How do community gardens cool city blocks? (topic {number % 10})"}
    if slot < 18:
        return {"query": f"Which street trees survive a dry summer? (case {number})"}
    if slot == 18:
        return {"query": f"Why does the {FAILING_TOPIC} question fail? (case {number})"}
    return {"query": "An invalid request", "colour": "blue"}


@dataclass(frozen=True, slots=True)
class MemoryConfig:
    checkpoints: tuple[int, ...] = (100, 1_000, 5_000, 10_000)
    concurrency: int = 8
    states: tuple[State, ...] = ("in-process", "redis")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    requests: int
    rss_bytes: int
    elapsed_s: float


@dataclass
class MemoryResult:
    state: State
    startup_rss_bytes: int
    checkpoints: list[Checkpoint] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    load_before: float = 0.0


async def send(session: aiohttp.ClientSession, service: Service, number: int) -> str:
    """One request of the mix, read to its end; how it ended."""
    async with session.post(service.url + "/v1/answer", json=request_body(number)) as response:
        if response.status != 200:
            await response.read()
            return f"HTTP {response.status}"
        ending = "no ending"
        async for line in response.content:
            if line.startswith(b"event: done"):
                ending = "done"
            elif line.startswith(b"event: error"):
                ending = "error event"
            elif ending == "done" and line.startswith(b"data: "):
                ending = "done, cached" if b'"cached":true' in line else "done, fresh"
        return ending


async def _run_requests(
    session: aiohttp.ClientSession,
    service: Service,
    numbers: range,
    concurrency: int,
    outcomes: Counter[str],
) -> None:
    queue = iter(numbers)

    async def client() -> None:
        for number in queue:  # shared: each number goes to one client
            outcomes[await send(session, service, number)] += 1

    await asyncio.gather(*(client() for _ in range(concurrency)))


async def _measure_state(world: World, state: State, config: MemoryConfig) -> MemoryResult:
    load = os.getloadavg()[0]
    with state_env(state) as extra:
        env = service_env(world, **extra)
        async with run_service(env) as service, client_session() as session:
            result = MemoryResult(state, rss_bytes(service.pid), load_before=load)
            started = time.perf_counter()
            done = 0
            for checkpoint in config.checkpoints:
                numbers = range(done, checkpoint)
                await _run_requests(session, service, numbers, config.concurrency, result.outcomes)
                done = checkpoint
                elapsed = time.perf_counter() - started
                result.checkpoints.append(Checkpoint(done, rss_bytes(service.pid), elapsed))
    return result


async def measure_memory(config: MemoryConfig) -> list[MemoryResult]:
    """Per state: RSS after startup and at each checkpoint of the request mix."""
    fake = FakeSGLang(responder=scripted_reply)
    with run_world(WorldConfig(llm=fake)) as world:
        return [await _measure_state(world, state, config) for state in config.states]


def report_state(result: MemoryResult, config: MemoryConfig) -> str:
    """One state's Markdown table and the target line."""
    first = result.checkpoints[0]
    rows = [["after startup (baseline)", "0", f"{result.startup_rss_bytes / MB:.1f}", "", ""]]
    start = Checkpoint(0, result.startup_rss_bytes, 0.0)
    for previous, point in itertools.pairwise([start, *result.checkpoints]):
        rate = (point.requests - previous.requests) / (point.elapsed_s - previous.elapsed_s)
        rows.append(
            [
                f"after {point.requests:,} requests",
                f"{point.elapsed_s:.1f}",
                f"{point.rss_bytes / MB:.1f}",
                f"{(point.rss_bytes - first.rss_bytes) / MB:+.1f}",
                f"{rate:.0f}",
            ]
        )
    growth = (result.checkpoints[-1].rss_bytes - first.rss_bytes) / MB
    last = result.checkpoints[-1].requests
    verdict = "met" if growth < 50 else "MISSED"
    mix = ", ".join(f"{name}: {count}" for name, count in sorted(result.outcomes.items()))
    headers = ["", "elapsed s", "RSS MB", f"MB vs after {first.requests}", "requests/s"]
    return "\n".join(
        [
            f"{result.state} state: {last:,} requests, {config.concurrency} at a time; "
            f"{os.cpu_count()} cores, load average before {result.load_before:.2f}",
            f"outcomes: {mix}",
            "",
            markdown_table(headers, rows),
            "",
            f"target RSS after {last:,} within 50 MB of RSS after {first.requests}: {verdict} "
            f"({growth:+.1f} MB)",
        ]
    )


def report(results: Sequence[MemoryResult], config: MemoryConfig) -> str:
    return "\n\n".join(report_state(result, config) for result in results)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    defaults = MemoryConfig()
    parser.add_argument(
        "--checkpoints",
        type=lambda text: tuple(int(n) for n in text.split(",")),
        default=defaults.checkpoints,
        help="comma-separated request counts (default: 100,1000,5000,10000)",
    )
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency)
    parser.add_argument(
        "--states",
        type=lambda text: tuple(text.split(",")),
        default=defaults.states,
        help="comma-separated: in-process (no Redis), redis (default: both)",
    )
    args = parser.parse_args(argv)
    config = MemoryConfig(args.checkpoints, args.concurrency, args.states)
    print(report(asyncio.run(measure_memory(config)), config))


if __name__ == "__main__":
    main()
