"""Streaming capacity: how many SSE answers ``searchqa serve`` relays on time, at what CPU a token.

N clients each stream an answer (``POST /v1/answer``, distinct questions, ``no_cache``) from
``searchqa serve`` (``--workers``, default one, in its own process; more than one share a
redis-server of their own). Its model is the fake SGLang at 20 tokens/s
per stream and its search engine a fake SearXNG that finds nothing, so no page is fetched; both
fakes run in a third process. Baseline, same run, same N: clients streaming the fake SGLang's
``/v1/chat/completions`` directly. Clients start evenly over ``ramp_s``; each records when every
token (``reasoning``/``answer`` event, or chunk with text) arrives.

Added latency of a token: its offset in its stream (arrival - arrival of the stream's first
token) minus the median offset of the same position over the baseline streams, less the median
of that difference over its own stream. So a stream that is late as a whole adds nothing (the
delay before the first token is bench/first_token.py's business, and shows here as "first
token"), while a token that falls behind the pace the model sends at adds how far it fell
behind. Gaps between tokens are also compared, leaving out the pause at ``</think>``.

Tokens are counted from the text each event carries (the fake's tokenizer), so an event that
carries several tokens (tokens that reached the server in one read) counts as all of them,
each arriving with it. CPU per token: the server processes' CPU time (workers included) over
the tokens they delivered, answer starts included. ``--service-path`` runs the server from
another tree (a previous commit) for a before/after comparison. Reproduce with::

    python -m bench.stream_capacity [--workers 2] [--service-path DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from bench.service import (
    Service,
    client_session,
    run_service,
    service_env,
    state_env,
    tree_cpu_seconds,
)
from bench.simweb import World, WorldConfig, markdown_table, percentile, run_world
from tests.fakes.sglang import FakeSGLang, tokenize

REASONING = (
    "Okay, the user asks how community gardens change the temperature of the blocks around "
    "them. The search found nothing, so I answer from what I know.\n"
)
ANSWER = (
    "Community gardens cool the blocks around them in two ways. Plants shade the ground, so "
    "less sunlight turns into heat on asphalt and walls. Watered soil and leaves evaporate "
    "water, which takes heat from the air. Open beds also let the ground give off heat at "
    "night, where paved lots keep it. A single garden will not cool a district, but many "
    "small ones spread over a neighbourhood make a difference that residents notice on "
    "summer afternoons."
)


# -- streaming -----------------------------------------------------------------------------


REASONING_LINE, ANSWER_LINE, END_LINE, OTHER_LINE = range(4)


@dataclass(frozen=True, slots=True)
class StreamTrace:
    """One client's stream: when it asked, when each token arrived, how it ended."""

    sent_at: float
    token_times: tuple[float, ...]
    answer_from: int
    """Position of the first answer token (reasoning tokens come before it)."""
    completed: bool
    status: int


class LineReader:
    """Reads one SSE stream line by line: which lines carry tokens, and how many."""

    def __init__(self, *, searchqa: bool) -> None:
        self._searchqa = searchqa
        self._pending = OTHER_LINE

    def read(self, line: bytes) -> tuple[int, int]:
        """(kind, tokens) of ``line``: kind is REASONING/ANSWER/END/OTHER_LINE."""
        return self._event(line) if self._searchqa else _chunk(line)

    def _event(self, line: bytes) -> tuple[int, int]:
        """searchqa's SSE: ``event: reasoning|answer|done``, then the event's ``data:``."""
        if line.startswith(b"event: "):
            kind = classify_event(line)
            self._pending = kind
            return (END_LINE, 0) if kind == END_LINE else (OTHER_LINE, 0)
        if line.startswith(b"data: ") and self._pending in (REASONING_LINE, ANSWER_LINE):
            kind, self._pending = self._pending, OTHER_LINE
            return kind, max(1, len(tokenize(json.loads(line[6:])["text"])))
        return OTHER_LINE, 0


def _chunk(line: bytes) -> tuple[int, int]:
    """The model's SSE: chunks with reasoning or answer text, and ``[DONE]``."""
    kind = classify_chunk(line)
    if kind not in (REASONING_LINE, ANSWER_LINE):
        return kind, 0
    delta = json.loads(line[6:])["choices"][0]["delta"]
    text = delta.get("reasoning_content") or delta.get("content") or ""
    return kind, max(1, len(tokenize(text)))


async def trace_stream(
    session: aiohttp.ClientSession, url: str, body: dict[str, Any], *, searchqa: bool
) -> StreamTrace:
    """POST ``body`` and note the arrival of every token (one time per token an event carries)."""
    sent = time.perf_counter()
    times: list[float] = []
    answer_from: int | None = None
    completed = False
    reader = LineReader(searchqa=searchqa)
    async with session.post(url, json=body) as response:
        if response.status == 200:
            async for line in response.content:
                kind, count = reader.read(line)
                if kind == OTHER_LINE:
                    continue
                if kind == END_LINE:
                    completed = True
                    continue
                if kind == ANSWER_LINE and answer_from is None:
                    answer_from = len(times)
                times += [time.perf_counter()] * count
        end = len(times) if answer_from is None else answer_from
        return StreamTrace(sent, tuple(times), end, completed, response.status)


def classify_event(line: bytes) -> int:
    """Lines of searchqa's SSE: ``event: reasoning|answer|done``."""
    if not line.startswith(b"event: "):
        return OTHER_LINE
    kind = line[7:].rstrip()
    return {b"reasoning": REASONING_LINE, b"answer": ANSWER_LINE, b"done": END_LINE}.get(
        kind, OTHER_LINE
    )


def classify_chunk(line: bytes) -> int:
    """Lines of the model's SSE: chunks with reasoning or answer text, and ``[DONE]``."""
    if line.startswith(b"data: [DONE]"):
        return END_LINE
    if not line.startswith(b"data: {"):
        return OTHER_LINE
    if b'"reasoning_content":"' in line:
        return REASONING_LINE
    if b'"content":"' in line and b'"content":""' not in line:
        return ANSWER_LINE
    return OTHER_LINE


async def _run_clients(
    count: int, ramp_s: float, client: Callable[[int], Any]
) -> list[StreamTrace | BaseException]:
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05

    async def one(number: int) -> StreamTrace:
        await asyncio.sleep(max(0.0, start + ramp_s * number / count - loop.time()))
        trace: StreamTrace = await client(number)
        return trace

    return await asyncio.gather(*(one(n) for n in range(count)), return_exceptions=True)


# -- the benchmark -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CapacityConfig:
    levels: tuple[int, ...] = (100, 200, 300, 400, 500, 600)
    tokens_per_s: float = 20.0
    ramp_s: float = 3.0
    reasoning: str = REASONING
    answer: str = ANSWER
    workers: int = 1
    service_path: str | None = None
    """Run the server from this tree (its ``searchqa`` package first on PYTHONPATH)."""


@dataclass(frozen=True, slots=True)
class LevelResult:
    """One concurrency level: the baseline and ours (failed clients as exceptions)."""

    clients: int
    baseline: list[StreamTrace | BaseException]
    ours: list[StreamTrace | BaseException]
    server_cpu_s: float
    """CPU time the searchqa process used while ours ran."""
    ours_wall_s: float
    load_before: float
    """The machine's one-minute load average when the level started."""


def _ok(traces: Sequence[StreamTrace | BaseException]) -> list[StreamTrace]:
    return [t for t in traces if isinstance(t, StreamTrace) and t.completed and t.token_times]


def offsets(trace: StreamTrace) -> list[float]:
    """Seconds from the stream's first token to each of its tokens."""
    first = trace.token_times[0]
    return [t - first for t in trace.token_times]


def schedule(traces: Sequence[StreamTrace]) -> list[float]:
    """Median offset of each token position over ``traces``."""
    columns = [offsets(t) for t in traces]
    length = min(len(c) for c in columns)
    return [percentile([c[k] for c in columns], 50) for k in range(length)]


def added_latency(traces: Sequence[StreamTrace], reference: Sequence[float]) -> list[float]:
    """Per token: how much later than the reference pace it came, against its stream's norm.

    Each token's offset minus the reference offset of its position, less the median of that
    difference over its stream: a stream that is late as a whole adds nothing, a token that
    falls behind its stream's pace adds how far it fell behind.
    """
    added: list[float] = []
    for trace in traces:
        behind = [o - reference[k] for k, o in enumerate(offsets(trace)[: len(reference)])]
        norm = percentile(behind, 50)
        added += [value - norm for value in behind]
    return added


def gaps(traces: Sequence[StreamTrace]) -> list[float]:
    """Time between consecutive tokens, within the reasoning and within the answer.

    The pause at ``</think>`` (the model sends tokens there that no client sees) is left out.
    """
    return [
        later - earlier
        for t in traces
        for k, (earlier, later) in enumerate(itertools.pairwise(t.token_times), start=1)
        if k != t.answer_from
    ]


async def _level(
    session: aiohttp.ClientSession, world: World, service: Service, n: int, config: CapacityConfig
) -> LevelResult:
    direct = f"{world.llm_base_url}/chat/completions"
    prompt = "How do community gardens cool city blocks?"

    async def baseline(number: int) -> StreamTrace:
        body = {
            "model": FakeSGLang.model,
            "messages": [{"role": "user", "content": f"{prompt} (client {number})"}],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        return await trace_stream(session, direct, body, searchqa=False)

    async def ours(number: int) -> StreamTrace:
        body = {"query": f"{prompt} (level {n}, client {number})", "no_cache": True}
        return await trace_stream(session, service.url + "/v1/answer", body, searchqa=True)

    load = os.getloadavg()[0]
    base = await _run_clients(n, config.ramp_s, baseline)
    cpu, wall = tree_cpu_seconds(service.pid), time.perf_counter()
    traced = await _run_clients(n, config.ramp_s, ours)
    cpu, wall = tree_cpu_seconds(service.pid) - cpu, time.perf_counter() - wall
    return LevelResult(n, base, traced, cpu, wall, load)


@contextlib.asynccontextmanager
async def _service(world: World, config: CapacityConfig) -> AsyncIterator[Service]:
    with state_env("in-process" if config.workers == 1 else "redis") as state:
        extra = dict(state)
        if config.service_path is not None:
            extra["PYTHONPATH"] = os.pathsep.join(
                [config.service_path, *filter(None, [os.environ.get("PYTHONPATH")])]
            )
        async with run_service(service_env(world, **extra), workers=config.workers) as service:
            yield service


async def measure_capacity(config: CapacityConfig) -> list[LevelResult]:
    """Each level in ``config.levels``: N direct streams, then N streams through searchqa."""
    fake = FakeSGLang(
        reasoning=config.reasoning,
        answer=config.answer,
        token_delay_s=1.0 / config.tokens_per_s,
    )
    results = []
    with run_world(WorldConfig(llm=fake)) as world:
        async with _service(world, config) as service, client_session() as session:
            for _ in range(config.workers):  # connections, imports, caches of every worker
                await _level(session, world, service, 2 * config.workers, config)
            for n in config.levels:
                results.append(await _level(session, world, service, n, config))
    return results


# -- the report ----------------------------------------------------------------------------


def _ms(value: float) -> str:
    return f"{value * 1000:.1f}"


def _pair(values: tuple[float, float]) -> str:
    return f"{_ms(values[0])} / {_ms(values[1])}"


NAN = float("nan")
TARGET_STREAMS = 500
TARGET_CPU_US = 60


@dataclass(frozen=True, slots=True)
class LevelSummary:
    """One level in numbers; pairs are (baseline, ours), times in seconds."""

    clients: int
    completed: tuple[int, int]
    added: tuple[float, float, float]
    """Added latency per token: p50, p99, max."""
    spread_p99_s: float
    """The baseline's own spread, measured the same way (the method's floor)."""
    gap_p50_s: tuple[float, float] = (NAN, NAN)
    gap_p99_s: tuple[float, float] = (NAN, NAN)
    first_token_p99_s: tuple[float, float] = (NAN, NAN)
    """Request sent -> first token."""
    last_token_p50_s: tuple[float, float] = (NAN, NAN)
    """Request sent -> last token."""
    server_cpu_share: float = NAN
    """searchqa's CPU time / wall time while ours ran (1.0 = one core)."""
    cpu_per_token_s: float = NAN

    @property
    def on_time(self) -> bool:
        return self.completed[1] == self.clients and self.added[1] < 0.050


def summarize(level: LevelResult) -> LevelSummary:
    base, ours = _ok(level.baseline), _ok(level.ours)
    completed = (len(base), len(ours))
    if not base or not ours:
        return LevelSummary(level.clients, completed, (NAN, NAN, NAN), NAN)
    reference = schedule(base)
    added = added_latency(ours, reference)

    def both(
        measure: Callable[[Sequence[StreamTrace]], list[float]], q: float
    ) -> tuple[float, float]:
        return percentile(measure(base), q), percentile(measure(ours), q)

    def first(side: Sequence[StreamTrace]) -> list[float]:
        return [t.token_times[0] - t.sent_at for t in side]

    def last(side: Sequence[StreamTrace]) -> list[float]:
        return [t.token_times[-1] - t.sent_at for t in side]

    tokens = sum(len(t.token_times) for t in ours)
    return LevelSummary(
        clients=level.clients,
        completed=completed,
        added=(percentile(added, 50), percentile(added, 99), max(added)),
        spread_p99_s=percentile(added_latency(base, reference), 99),
        gap_p50_s=both(gaps, 50),
        gap_p99_s=both(gaps, 99),
        first_token_p99_s=both(first, 99),
        last_token_p50_s=both(last, 50),
        server_cpu_share=level.server_cpu_s / level.ours_wall_s,
        cpu_per_token_s=level.server_cpu_s / tokens,
    )


def report(levels: Sequence[LevelResult], config: CapacityConfig) -> str:
    """Markdown tables and the target line."""
    summaries = [summarize(level) for level in levels]
    tokens = len(tokenize(config.reasoning)) + len(tokenize(config.answer))
    headers = ["streams", "completed base/ours", "added p50 ms", "added p99 ms",
               "added max ms", "baseline spread p99 ms", "gap p50 ms base/ours",
               "gap p99 ms base/ours"]  # fmt: skip
    rows = [
        [str(s.clients), f"{s.completed[0]}/{s.completed[1]}", *map(_ms, s.added),
         _ms(s.spread_p99_s), _pair(s.gap_p50_s), _pair(s.gap_p99_s)]
        for s in summaries
    ]  # fmt: skip
    load_headers = ["streams", "first token p99 ms base/ours", "last token p50 s base/ours",
                    "searchqa CPU (1.0 = a core)", "searchqa CPU µs per token",
                    "machine load before"]  # fmt: skip
    load_rows = [
        [str(s.clients), _pair(s.first_token_p99_s),
         f"{s.last_token_p50_s[0]:.2f} / {s.last_token_p50_s[1]:.2f}",
         f"{s.server_cpu_share:.2f}", f"{s.cpu_per_token_s * 1e6:.0f}", f"{level.load_before:.2f}"]
        for s, level in zip(summaries, levels, strict=True)
    ]  # fmt: skip
    late = [s.clients for s in summaries if not s.on_time]
    best = max((s.clients for s in summaries if s.on_time), default=0)
    knee = f"first level missing it: {min(late)} streams" if late else "no level missed it"
    verdict = "met" if best >= TARGET_STREAMS else "MISSED"
    cpu = [s.cpu_per_token_s * 1e6 for s in summaries]
    tree = config.service_path or "this tree"
    return "\n".join(
        [
            f"server: {tree}, {config.workers} worker(s); fake SGLang: {config.tokens_per_s:g} "
            f"tokens/s per stream, {tokens} tokens per reply (reasoning, then answer); clients "
            f"start evenly over {config.ramp_s:g} s; {os.cpu_count()} cores",
            "",
            markdown_table(headers, rows),
            "",
            markdown_table(load_headers, load_rows),
            "",
            f"target >= {TARGET_STREAMS} streams with p99 added latency < 50 ms: {verdict} "
            f"(most streams on time: {best}; {knee})",
            f"target CPU per token <= {TARGET_CPU_US} µs: "
            f"{'met' if max(cpu) <= TARGET_CPU_US else 'MISSED'} "
            f"({min(cpu):.0f}-{max(cpu):.0f} µs over the levels)",
        ]
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stream_capacity", description=__doc__)
    defaults = CapacityConfig()
    parser.add_argument(
        "--levels",
        type=lambda text: tuple(int(n) for n in text.split(",")),
        default=defaults.levels,
        help="comma-separated stream counts (default: 100,200,300,400,500,600)",
    )
    parser.add_argument("--ramp", type=float, default=defaults.ramp_s, metavar="S")
    parser.add_argument("--workers", type=int, default=1, help="server workers (2+: Redis)")
    parser.add_argument(
        "--service-path", metavar="DIR", help="run the server from this tree (a previous commit)"
    )
    args = parser.parse_args(argv)
    config = CapacityConfig(
        levels=args.levels, ramp_s=args.ramp, workers=args.workers, service_path=args.service_path
    )
    print(report(asyncio.run(measure_capacity(config)), config))


if __name__ == "__main__":
    main()
