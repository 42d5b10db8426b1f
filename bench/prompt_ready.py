"""Prompt-ready time: how soon after its last usable page arrives the prompt is prepared.

Runs the real preparation, ``prepare_steps`` (fake SearXNG, real PageFetcher, real
PageExtractor process pool, real packing with DeepSeek's tokenizer) against the simulated web,
one question at a time, and compares per question:

- ours: request start until ``prepare_steps()`` yields the PreparedPrompt;
- baseline: request start until the last page that made it into the prompt had been fetched
  and extracted (the earliest moment any pipeline could have built this same prompt).

Pages have lognormal latencies and some never answer, so some questions wait for the deadline:
there ours is the deadline, by design, and the ratio says how much of the wait was for pages that
never came. The what-if rows replay the measured arrivals under a rule that stops waiting for
stragglers (``HandOver``). Reproduce with::

    python -m bench.prompt_ready
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from collections.abc import Sequence
from contextlib import aclosing
from dataclasses import dataclass

from bench.simweb import (
    WorldConfig,
    assign_pages,
    draw_pages,
    markdown_table,
    percentile,
    pipeline_settings,
    run_world,
)
from searchqa.answer import Question, prepare_steps
from searchqa.documents import FetchedPage, Page, PreparedPrompt, Stopwatch
from searchqa.events import StatusEvent
from searchqa.kit import AnswerKit
from searchqa.steps.extract import PageExtractor
from tests.fakes.sglang import FakeSGLang


class TimedExtractor(PageExtractor):
    """The real extractor, noting when each page's extraction finished (``perf_counter``)."""

    def __init__(self, workers: int) -> None:
        super().__init__(workers)
        self.finished: dict[str, float] = {}

    async def extract(
        self,
        fetched: FetchedPage,
        *,
        fallback_title: str = "",
        snippet: str = "",
        published: str | None = None,
    ) -> Page | None:
        page = await super().extract(
            fetched, fallback_title=fallback_title, snippet=snippet, published=published
        )
        if page is not None:
            self.finished[page.url] = time.perf_counter()
        return page


@dataclass(frozen=True, slots=True)
class PromptReadyConfig:
    questions: int = 30
    pages_per_question: int = 8
    deadline_s: float = 3.0
    page_timeout_s: float = 4.0
    hang_rate: float = 0.05
    median_latency_s: float = 0.25
    latency_sigma: float = 1.0
    min_kb: float = 5
    max_kb: float = 200
    seed: int = 7
    warm_up: bool = False
    """Start the extraction workers before the first question."""


@dataclass(frozen=True, slots=True)
class QuestionTiming:
    """Seconds from the request start; ``baseline_s`` is None when no extracted page was used."""

    ours_s: float
    baseline_s: float | None
    search_s: float
    """Search finished (the fetch deadline starts here)."""
    read_s: float
    """Fetching finished (every page in, failed, or abandoned at the deadline)."""
    arrivals_s: list[float]
    """When each of the question's pages finished extraction, sorted (those in time only)."""
    hits: int
    pages_in_prompt: int
    pages_hanging: int

    @property
    def ratio(self) -> float | None:
        return None if self.baseline_s is None else self.ours_s / self.baseline_s

    @property
    def complete(self) -> bool:
        """Every page arrived (and was extracted) before fetching ended."""
        return len(self.arrivals_s) == self.hits


@dataclass(frozen=True, slots=True)
class PromptReadyResult:
    config: PromptReadyConfig
    questions: list[QuestionTiming]
    pages_served: int

    @property
    def measured(self) -> list[QuestionTiming]:
        return [q for q in self.questions if q.baseline_s is not None]


async def _time_question(
    question: str,
    urls: Sequence[str],
    kit: AnswerKit,
    extractor: TimedExtractor,
    hanging: int,
) -> QuestionTiming:
    info = await kit.model.describe()
    start = time.perf_counter()
    read_at = ready_at = start
    prepared: PreparedPrompt | None = None
    steps = prepare_steps(Question.of(question), kit, model=info, stopwatch=Stopwatch())
    async with aclosing(steps):
        async for item in steps:
            if isinstance(item, StatusEvent) and item.stage == "read":
                read_at = time.perf_counter()
            elif isinstance(item, PreparedPrompt):
                ready_at = time.perf_counter()
                prepared = item
    assert prepared is not None
    used = [extractor.finished[s.url] for s in prepared.sources if s.url in extractor.finished]
    return QuestionTiming(
        ours_s=ready_at - start,
        baseline_s=max(used) - start if used else None,
        search_s=(prepared.search_ms or 0) / 1000,
        read_s=read_at - start,
        arrivals_s=sorted(
            extractor.finished[url] - start
            for url in urls
            if extractor.finished.get(url, math.inf) <= read_at
        ),
        hits=len(urls),
        pages_in_prompt=len(prepared.sources),
        pages_hanging=hanging,
    )


async def measure_prompt_ready(config: PromptReadyConfig) -> PromptReadyResult:
    """Run ``config.questions`` questions one after another; time each."""
    per = config.pages_per_question
    pages = draw_pages(
        config.questions * per,
        seed=config.seed,
        min_kb=config.min_kb,
        max_kb=config.max_kb,
        median_latency_s=config.median_latency_s,
        latency_sigma=config.latency_sigma,
        hang_rate=config.hang_rate,
    )
    answers = assign_pages(pages, per)
    with run_world(WorldConfig(pages=pages, answers=answers, llm=FakeSGLang())) as web:
        settings = pipeline_settings(
            web, max_results=per, deadline_s=config.deadline_s, page_timeout_s=config.page_timeout_s
        )
        async with AnswerKit.from_settings(settings) as kit:
            kit.extractor.close()
            extractor = TimedExtractor(workers=kit.settings.fetch.extract_workers)
            kit.extractor = extractor
            if config.warm_up:
                await extractor.warm_up()
            timings = []
            for n, (question, paths) in enumerate(answers.items()):
                hanging = sum(page.hangs for page in pages[n * per : (n + 1) * per])
                urls = [web.url + path for path in paths]
                timings.append(await _time_question(question, urls, kit, extractor, hanging))
    return PromptReadyResult(config=config, questions=timings, pages_served=len(pages))


@dataclass(frozen=True, slots=True)
class HandOver:
    """A what-if: stop waiting once ``quorum`` of the pages are in and ``grace`` times the time
    that took has passed again (or at the deadline, whichever is first)."""

    quorum: float
    grace: float

    def replay(self, question: QuestionTiming) -> tuple[float, int]:
        """(prompt-ready time, pages kept), replayed on the measured arrivals and packing."""
        need = max(1, math.ceil(self.quorum * question.hits))
        stop = question.read_s
        if len(question.arrivals_s) >= need:
            stop = min(stop, question.arrivals_s[need - 1] * (1 + self.grace))
        kept = sum(t <= stop for t in question.arrivals_s)
        return stop + question.ours_s - question.read_s, kept


POLICIES = (HandOver(0.75, 0.5), HandOver(0.75, 1.0))


def _seconds(values: Sequence[float]) -> list[str]:
    return [f"{percentile(values, q) * 1000:.0f} ms" for q in (50, 90)] + [
        f"{max(values) * 1000:.0f} ms"
    ]


def report(result: PromptReadyResult) -> str:
    """The result as Markdown tables and target lines."""
    config = result.config
    measured = result.measured
    ours = [q.ours_s for q in measured]
    ratios = [q.ratio for q in measured if q.ratio is not None]
    complete = [q.ratio for q in measured if q.complete and q.ratio is not None]
    missing = [q.ratio for q in measured if not q.complete and q.ratio is not None]
    rows = [
        ["ours: prompt ready", *_seconds(ours)],
        ["baseline: last used page extracted", *_seconds([q.baseline_s or 0 for q in measured])],
        ["ratio ours / baseline", *_ratio_cells(ratios)],
        [f"ratio, {len(complete)} questions with every page in time", *_ratio_cells(complete)],
        [f"ratio, {len(missing)} questions with a page missing", *_ratio_cells(missing)],
        ["in ours: search (before the deadline starts)", *_seconds([q.search_s for q in measured])],
        [
            "in ours: fetch + extract (under the deadline)",
            *_seconds([q.read_s - q.search_s for q in measured]),
        ],
        [
            "in ours: waiting for pages not used",
            *_seconds([q.read_s - (q.baseline_s or 0) for q in measured]),
        ],
        ["in ours: packing and prompt", *_seconds([q.ours_s - q.read_s for q in measured])],
    ]
    used = sum(q.pages_in_prompt for q in result.questions)
    for policy in POLICIES:
        replays = [policy.replay(q) for q in measured]
        label = (
            f"what-if: go at {policy.quorum:.0%} of pages + {policy.grace:.0%} grace "
            f"({sum(kept for _, kept in replays)} pages used instead of {used})"
        )
        rows.append([label, *_seconds([ready for ready, _ in replays])])
    worst = max(ours)
    limit = config.deadline_s + 0.1
    p50 = percentile(ratios, 50)
    first = result.questions[0]
    lines = [
        f"{len(result.questions)} questions x {config.pages_per_question} pages "
        f"({result.pages_served} pages of {config.min_kb:g}-{config.max_kb:g} KB, "
        f"{sum(q.pages_hanging for q in result.questions)} hanging; {used} in prompts); "
        f"deadline {config.deadline_s:g} s, page timeout {config.page_timeout_s:g} s, "
        f"latency lognormal(median {config.median_latency_s:g} s, sigma "
        f"{config.latency_sigma:g}), extractor warm-up: {'yes' if config.warm_up else 'no'}",
        "",
        markdown_table(["", "p50", "p90", "max"], rows),
        "",
        f"first question ({'warm' if config.warm_up else 'cold'} workers): ours "
        f"{first.ours_s * 1000:.0f} ms, baseline "
        f"{(first.baseline_s or 0) * 1000:.0f} ms",
        f"target p50 ratio <= 1.2x: {'met' if p50 <= 1.2 else 'MISSED'} ({p50:.3f}x)",
        f"target ours <= deadline + 100 ms ({limit * 1000:.0f} ms): "
        f"{'met' if worst <= limit else 'MISSED'} (max {worst * 1000:.0f} ms)",
    ]
    if len(measured) < len(result.questions):
        lines.append(f"{len(result.questions) - len(measured)} questions used no fetched page")
    return "\n".join(lines)


def _stats(values: Sequence[float]) -> list[float]:
    return [percentile(values, 50), percentile(values, 90), max(values)]


def _ratio_cells(values: Sequence[float]) -> list[str]:
    return [f"{v:.2f}x" for v in _stats(values)] if values else ["-", "-", "-"]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.prompt_ready", description=__doc__)
    defaults = PromptReadyConfig()
    parser.add_argument("--questions", type=int, default=defaults.questions)
    parser.add_argument("--deadline", type=float, default=defaults.deadline_s, metavar="S")
    parser.add_argument("--hang-rate", type=float, default=defaults.hang_rate)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--warm-up", action="store_true", help="start the workers beforehand")
    args = parser.parse_args(argv)
    config = PromptReadyConfig(
        questions=args.questions,
        deadline_s=args.deadline,
        hang_rate=args.hang_rate,
        seed=args.seed,
        warm_up=args.warm_up,
    )
    print(report(asyncio.run(measure_prompt_ready(config))))


if __name__ == "__main__":
    main()
