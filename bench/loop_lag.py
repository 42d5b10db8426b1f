"""Event-loop lag while many questions extract pages at once.

A probe coroutine sleeps 5 ms in a loop and records how late it wakes up, first on an idle loop
(baseline), then while 20 prepare() runs share one pipeline against the simulated web (larger
pages, 50-200 KB): with the extraction process pool as shipped, cold (workers start during the
run) and warm, and finally with the same extraction called on the event loop itself, which is
what the pool exists to avoid. Reproduce with::

    python -m bench.loop_lag
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bench.simweb import (
    World,
    WorldConfig,
    assign_pages,
    draw_pages,
    markdown_table,
    percentile,
    pipeline_settings,
    run_world,
)
from searchqa.answer import Question, prepare
from searchqa.documents import PreparedPrompt
from searchqa.kit import AnswerKit
from searchqa.settings import FetchSettings
from searchqa.steps.extract import ExtractedText, PageExtractor
from tests.fakes.sglang import FakeSGLang

MAX_SAMPLES = 100_000
"""Bound on probe wake-ups per scenario (about 8 minutes of 5 ms sleeps)."""


class OnLoopExtractor(PageExtractor):
    """Runs the extraction function right on the event loop: the baseline to avoid."""

    async def _run(self, args: tuple[str, str, str], url: str) -> ExtractedText | None:
        return self._extract(*args)


@dataclass(frozen=True, slots=True)
class LoopLagConfig:
    questions: int = 20
    pages_per_question: int = 8
    min_kb: float = 50
    max_kb: float = 200
    median_latency_s: float = 0.2
    latency_sigma: float = 0.7
    deadline_s: float = 6.0
    idle_s: float = 2.0
    interval_s: float = 0.005
    seed: int = 11
    workers: int = FetchSettings().extract_workers


@dataclass(frozen=True, slots=True)
class LagRun:
    """Probe lateness in one scenario, in seconds."""

    name: str
    lags_s: list[float]
    """How late each wake-up came."""
    busy_s: list[float]
    """CPU time the loop's thread spent during each sleep: code running on the loop. The rest
    of a lag is waiting: for the GIL (other threads of the process) or for a CPU core."""
    wall_s: float
    pages_in_prompts: int

    def p(self, q: float) -> float:
        return percentile(self.lags_s, q)


async def _probe(
    lags: list[float], busy: list[float], stop: asyncio.Event, interval: float
) -> None:
    while not stop.is_set() and len(lags) < MAX_SAMPLES:
        before, cpu_before = time.perf_counter(), time.thread_time()
        await asyncio.sleep(interval)
        lags.append(time.perf_counter() - before - interval)
        busy.append(time.thread_time() - cpu_before)


async def _prepare(question: str, kit: AnswerKit) -> PreparedPrompt:
    return await prepare(Question.of(question), kit)


async def _probe_while(name: str, interval_s: float, work: asyncio.Future[int]) -> LagRun:
    lags: list[float] = []
    busy: list[float] = []
    stop = asyncio.Event()
    start = time.perf_counter()
    probe = asyncio.create_task(_probe(lags, busy, stop, interval_s))
    try:
        pages = await work
    finally:
        stop.set()
        await probe
    return LagRun(name, lags, busy, time.perf_counter() - start, pages)


async def _questions_at_once(
    name: str,
    world: World,
    questions: Sequence[str],
    config: LoopLagConfig,
    extractor: PageExtractor,
    *,
    warm: bool,
) -> LagRun:
    settings = pipeline_settings(
        world, max_results=config.pages_per_question, deadline_s=config.deadline_s
    )
    async with AnswerKit.from_settings(settings) as kit:
        kit.extractor.close()
        kit.extractor = extractor
        await kit.model.describe()
        if warm:
            await extractor.warm_up()

        async def run_all() -> int:
            prompts = await asyncio.gather(*(_prepare(q, kit) for q in questions))
            return sum(len(prompt.sources) for prompt in prompts)

        return await _probe_while(name, config.interval_s, asyncio.ensure_future(run_all()))


async def measure_loop_lag(config: LoopLagConfig) -> list[LagRun]:
    """Idle baseline, the pool cold and warm, and extraction on the loop, in that order."""
    pages = draw_pages(
        config.questions * config.pages_per_question,
        seed=config.seed,
        min_kb=config.min_kb,
        max_kb=config.max_kb,
        median_latency_s=config.median_latency_s,
        latency_sigma=config.latency_sigma,
        hang_rate=0,
    )
    answers = assign_pages(pages, config.pages_per_question)
    questions = list(answers)
    workers = config.workers
    with run_world(WorldConfig(pages=pages, answers=answers, llm=FakeSGLang())) as world:
        idle = asyncio.ensure_future(asyncio.sleep(config.idle_s, result=0))
        runs = [await _probe_while("idle loop (baseline)", config.interval_s, idle)]
        for name, extractor, warm in (
            ("ours: process pool, cold start", PageExtractor(workers), False),
            ("ours: process pool, warm", PageExtractor(workers), True),
            ("extraction on the loop (baseline)", OnLoopExtractor(workers), False),
        ):
            runs.append(
                await _questions_at_once(name, world, questions, config, extractor, warm=warm)
            )
    return runs


def report(runs: Sequence[LagRun], config: LoopLagConfig) -> str:
    """The runs as a Markdown table and the target line."""
    rows = [
        [
            run.name,
            str(len(run.lags_s)),
            f"{run.p(50) * 1000:.2f} ms",
            f"{run.p(99) * 1000:.1f} ms",
            f"{max(run.lags_s) * 1000:.1f} ms",
            f"{percentile(run.busy_s, 99) * 1000:.1f} ms",
            f"{run.wall_s:.1f} s",
            str(run.pages_in_prompts),
        ]
        for run in runs
    ]
    headers = ["scenario", "wake-ups", "p50 lag", "p99 lag", "max lag", "p99 on-loop CPU"]
    headers += ["wall", "pages used"]
    warm = next(run for run in runs if run.name.endswith("warm"))
    verdict = "met" if warm.p(99) < 0.020 else "MISSED"
    return "\n".join(
        [
            f"{config.questions} questions at once x {config.pages_per_question} pages of "
            f"{config.min_kb:g}-{config.max_kb:g} KB; probe sleeps "
            f"{config.interval_s * 1000:g} ms; deadline {config.deadline_s:g} s",
            "",
            markdown_table(headers, rows),
            "",
            f"target p99 lag < 20 ms (pool, warm): {verdict} ({warm.p(99) * 1000:.1f} ms)",
        ]
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.loop_lag", description=__doc__)
    defaults = LoopLagConfig()
    parser.add_argument("--questions", type=int, default=defaults.questions)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    args = parser.parse_args(argv)
    config = LoopLagConfig(questions=args.questions, seed=args.seed)
    print(report(asyncio.run(measure_loop_lag(config)), config))


if __name__ == "__main__":
    main()
