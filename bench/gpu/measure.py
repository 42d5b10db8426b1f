"""searchqa in front of a real SGLang: what users feel, each figure beside SGLang alone.

Starts the simulated web (fake SearXNG and article pages, ``bench.simweb``) and two
``searchqa serve`` processes pointed at the SGLang at ``--sglang`` (started with
``--enable-metrics --max-queued-requests 24``): one that writes short answers (TTFT, single
flight, answer cache) and one that writes long ones with no grace period (disconnect, queue
full). Every question is asked once first, so search results and pages come from the service's
caches; the raw client sends the prompt ``searchqa prompt`` prints for the same question.
Results go to ``--out`` (results.json, samples.json) after each section. Reproduce with::

    python -m bench.gpu.measure --sglang http://127.0.0.1:30000 --out /tmp/gpu-results
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.gpu import sections
from bench.gpu.through import ask
from bench.gpu.upstream import Upstream, chat_body, stream_raw, words_prompt
from bench.service import run_service, service_env
from bench.simweb import World, WorldConfig, assign_pages, draw_pages, run_world

PAGES_PER_QUESTION = 8


@dataclass(frozen=True, slots=True)
class GpuConfig:
    sglang: str
    out: Path
    questions: int = 20
    single_pairs: int = 12
    rounds: int = 3
    concurrency: int = 16
    sizes: tuple[int, ...] = (2048, 4096, 8192, 12288, 16384)
    curve_reps: int = 3
    answer_tokens: int = 32
    long_tokens: int = 8192
    decode_tokens: int = 256
    burst: int = 64
    burst_tokens: int = 8192
    copies: int = 8
    skip: frozenset[str] = field(default_factory=frozenset)


def searchqa_env(world: World, config: GpuConfig, index: Path, **extra: str) -> dict[str, str]:
    return service_env(
        world,
        SEARCHQA_LLM__BASE_URL=config.sglang.rstrip("/") + "/v1",
        SEARCHQA_FETCH__ALLOW_HOSTS="127.0.0.1",
        # Every page in time, however loaded the host: a page missed by ``searchqa prompt``
        # but not by the service would give the raw client another prompt.
        SEARCHQA_FETCH__DEADLINE_S="20",
        SEARCHQA_FETCH__PAGE_TIMEOUT_S="20",
        SEARCHQA_FETCH__QUORUM="1",
        SEARCHQA_INDEX__PATH=str(index),
        **extra,
    )


async def capture_prompts(env: dict[str, str], questions: Sequence[str]) -> dict[str, str]:
    """What ``searchqa prompt`` prints for each question (the user message the service sends)."""
    limit = asyncio.Semaphore(8)

    async def one(question: str) -> tuple[str, str]:
        async with limit:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "searchqa.cli", "prompt", question,
                env=env, cwd=tempfile.gettempdir(),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await process.communicate()
            if process.returncode:
                raise RuntimeError(f"searchqa prompt failed: {err.decode()[-500:]}")
            return question, out.decode().removesuffix("\n")

    first = await one(questions[0])
    rest = await asyncio.gather(*(one(q) for q in questions[1:]))
    return dict([first, *rest])


async def samples(upstream: Upstream, prompt: str) -> dict[str, Any]:
    """The real server's shapes: stream chunks, usage, model card, errors, metric names."""
    client = upstream.client
    stream = await stream_raw(
        client, upstream.chat_url, chat_body(upstream.model, prompt, 8), keep_lines=True
    )
    completion = {"model": upstream.model, "prompt": "Hello", "max_tokens": 4, "stream": True,
                  "stream_options": {"include_usage": True}}  # fmt: skip
    text = await stream_raw(client, upstream.root + "/v1/completions", completion, keep_lines=True)
    too_long = chat_body(upstream.model, words_prompt(40000, seed=3), 8)
    refused = await client.post(upstream.chat_url, json=too_long)
    metrics = (await client.get(upstream.root + "/metrics")).text
    return {
        "chat_stream_lines": [*stream.lines[:4], "...", *stream.lines[-3:]],
        "completion_stream_lines": [*text.lines[:3], "...", *text.lines[-3:]],
        "models": (await client.get(upstream.root + "/v1/models")).json(),
        "context_error": {"status": refused.status_code, "body": refused.text[:1000]},
        "metric_lines": [line for line in metrics.splitlines() if line.startswith("sglang:num_")][
            :20
        ],
    }


class Results:
    """Sections as they finish, written to ``out`` each time."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.data: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S")}
        out.mkdir(parents=True, exist_ok=True)

    async def run(self, name: str, work: Callable[[], Awaitable[Any]]) -> None:
        started = time.perf_counter()
        print(f"== {name}", flush=True)
        try:
            self.data[name] = await work()
        except Exception:
            self.data[name] = {"failed": traceback.format_exc()[-3000:]}
        self.data.setdefault("seconds", {})[name] = round(time.perf_counter() - started, 1)
        self.write()
        print(json.dumps(self.data[name], default=str)[:1500], flush=True)

    def write(self) -> None:
        text = json.dumps(self.data, indent=1, default=str)
        (self.out / "results.json").write_text(text)


@contextlib.asynccontextmanager
async def _setup(
    config: GpuConfig,
) -> AsyncIterator[tuple[str, str, dict[str, str], dict[str, str]]]:
    """(short-answer service URL, long-answer service URL, question -> prompt, env)."""
    pages = draw_pages(
        config.questions * PAGES_PER_QUESTION, seed=11, min_kb=30, max_kb=120,
        median_latency_s=0.005, latency_sigma=0.1, hang_rate=0.0, zh_share=0.0,
    )  # fmt: skip
    answers = assign_pages(pages, PAGES_PER_QUESTION)
    with (
        run_world(WorldConfig(pages=pages, answers=answers)) as world,
        tempfile.TemporaryDirectory(prefix="searchqa-gpu-") as home,
    ):
        env = searchqa_env(world, config, Path(home, "index.sqlite3"),
                   SEARCHQA_LLM__MAX_TOKENS=str(config.answer_tokens))  # fmt: skip
        long_env = env | {
            "SEARCHQA_LLM__MAX_TOKENS": str(config.long_tokens),
            "SEARCHQA_SERVER__GRACE_S": "0",
        }
        prompts = await capture_prompts(env, list(answers))
        async with run_service(env) as short, run_service(long_env) as long:
            yield short.url, long.url, prompts, env


async def measure(config: GpuConfig) -> dict[str, Any]:
    """Every section; results in ``config.out``."""
    results = Results(config.out)
    upstream = Upstream(config.sglang)
    await upstream.start()
    results.data["model"] = upstream.model
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
    client = httpx.AsyncClient(timeout=600, limits=limits, trust_env=False)
    try:
        async with _setup(config) as (short, long, prompts, _env_used):
            questions = list(prompts)
            timed, special = questions[:-3], questions[-3:]
            timed_prompts = {q: prompts[q] for q in timed}
            warm = await asyncio.gather(*(ask(client, short, q) for q in questions))
            results.data["warm_up_errors"] = [a.error for a in warm if a.error]
            sizes = [a.prompt_tokens or 0 for a in warm]
            results.data["prompt_tokens"] = {"min": min(sizes), "max": max(sizes)}
            plan: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
                ("samples", lambda: samples(upstream, prompts[timed[0]])),
                ("ttft_x1_cold", lambda: sections.first_token(
                    upstream, client, short, timed_prompts, concurrency=1,
                    rounds=config.single_pairs, max_tokens=config.answer_tokens, cold=True)),
                ("ttft_x1_warm", lambda: sections.first_token(
                    upstream, client, short, timed_prompts, concurrency=1,
                    rounds=config.single_pairs, max_tokens=config.answer_tokens, cold=False)),
                (f"ttft_x{config.concurrency}_cold", lambda: sections.first_token(
                    upstream, client, short, timed_prompts, concurrency=config.concurrency,
                    rounds=config.rounds, max_tokens=config.answer_tokens, cold=True)),
                ("single_flight", lambda: sections.single_flight(
                    upstream, client, short, special[0], prompts[special[0]],
                    copies=config.copies, max_tokens=config.answer_tokens)),
                ("disconnect", lambda: sections.disconnect(
                    upstream, client, long, special[1], prompts[special[1]],
                    max_tokens=config.long_tokens)),
                ("queue_full", lambda: sections.queue_full(
                    upstream, client, long, special[2], burst=config.burst,
                    burst_tokens=config.burst_tokens)),
                ("curve", lambda: sections.prompt_curve(
                    upstream, sizes=config.sizes, reps=config.curve_reps,
                    concurrency=config.concurrency)),
                ("decode", lambda: sections.decode_rate(
                    upstream, tokens=config.decode_tokens, concurrency=config.concurrency)),
            ]  # fmt: skip
            for name, work in plan:
                if name not in config.skip:
                    await results.run(name, work)
    finally:
        await client.aclose()
        await upstream.aclose()
    results.write()
    return results.data


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.gpu.measure", description=__doc__)
    parser.add_argument("--sglang", default="http://127.0.0.1:30000")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu-results")))
    parser.add_argument("--skip", default="", help="comma-separated section names")
    parser.add_argument("--small", action="store_true", help="tiny sizes, for a rehearsal")
    args = parser.parse_args(argv)
    config = GpuConfig(sglang=args.sglang, out=args.out,
                       skip=frozenset(filter(None, args.skip.split(","))))  # fmt: skip
    if args.small:
        config = small(config)
    asyncio.run(measure(config))


def small(config: GpuConfig) -> GpuConfig:
    """The same sections at sizes a CPU and the fake finish in seconds."""
    return GpuConfig(
        sglang=config.sglang, out=config.out, questions=6, single_pairs=2, rounds=1,
        concurrency=3, sizes=(256, 512), curve_reps=1, answer_tokens=8, long_tokens=4000,
        decode_tokens=16, burst=8, burst_tokens=256, copies=3, skip=config.skip,
    )  # fmt: skip


if __name__ == "__main__":
    main()
