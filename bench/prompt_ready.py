"""Prompt-ready time: how soon after its last usable page arrives the research step is done.

Runs the real research step (fake SearXNG, real PageFetcher, real PageExtractor process pool,
real packing with DeepSeek's tokenizer) against the simulated web, one question at a time, and
compares per question:

- ours: request start until ``research()`` yields the PreparedPrompt;
- baseline: request start until the last page that made it into the prompt had been fetched
  and extracted (the earliest moment any pipeline could have built this same prompt).

Pages have lognormal latencies and some never answer, so some questions wait for the deadline:
there ours is the deadline, by design, and the ratio says how much of the wait was for pages that
never came. Reproduce with::

    python -m bench.prompt_ready
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from contextlib import aclosing
from dataclasses import dataclass

from bench.simweb import (
    WorldConfig,
    draw_pages,
    markdown_table,
    percentile,
    run_world,
)
from searchqa.documents import FetchedPage, Page
from searchqa.events import StatusEvent
from searchqa.pipeline import Pipeline
from searchqa.research import PreparedPrompt, Stopwatch, research
from searchqa.settings import FetchSettings, LLMSettings, SearchSettings, Settings
from searchqa.steps.extract import PageExtractor
from searchqa.steps.language import detect_language
from searchqa.steps.prompt import format_date, today_in_zone
from tests.fakes.sglang import FakeSGLang

TOPICS = (
    "How do community gardens cool city blocks",
    "What does stale-while-revalidate do in Cache-Control",
    "Why did tourism grow after the high-speed rail opened",
    "Which street trees survive a dry summer",
    "How much does a low-cost temperature logger cost",
)


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
    seed: int = 7
    warm_up: bool = False
    """Start the extraction workers before the first question."""


@dataclass(frozen=True, slots=True)
class QuestionTiming:
    """Seconds from the request start; ``baseline_s`` is None when no extracted page was used."""

    ours_s: float
    baseline_s: float | None
    read_s: float
    """Fetching finished (every page in, failed, or abandoned at the deadline)."""
    pages_in_prompt: int
    pages_hanging: int

    @property
    def ratio(self) -> float | None:
        return None if self.baseline_s is None else self.ours_s / self.baseline_s


@dataclass(frozen=True, slots=True)
class PromptReadyResult:
    config: PromptReadyConfig
    questions: list[QuestionTiming]
    pages_served: int

    @property
    def measured(self) -> list[QuestionTiming]:
        return [q for q in self.questions if q.baseline_s is not None]


def _settings(world_url: str, config: PromptReadyConfig) -> Settings:
    return Settings(
        llm=LLMSettings(base_url=f"{world_url}/llm/v1"),
        search=SearchSettings(
            engines=["searxng"],
            searxng_url=f"{world_url}/searx",
            max_results=config.pages_per_question,
        ),
        fetch=FetchSettings(
            allow_hosts=["127.0.0.1"],
            deadline_s=config.deadline_s,
            page_timeout_s=config.page_timeout_s,
        ),
    )


async def _time_question(
    question: str, pipeline: Pipeline, extractor: TimedExtractor, hanging: int
) -> QuestionTiming:
    language = detect_language(question)
    cur_date = format_date(today_in_zone(None), language)
    info = await pipeline.model.describe()
    start = time.perf_counter()
    read_at = ready_at = start
    prepared: PreparedPrompt | None = None
    steps = research(
        question,
        language=language,
        cur_date=cur_date,
        model=info,
        pipeline=pipeline,
        stopwatch=Stopwatch(),
    )
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
        read_s=read_at - start,
        pages_in_prompt=len(prepared.sources),
        pages_hanging=hanging,
    )


async def measure_prompt_ready(config: PromptReadyConfig) -> PromptReadyResult:
    """Run ``config.questions`` questions one after another; time each."""
    per = config.pages_per_question
    pages = draw_pages(
        config.questions * per,
        seed=config.seed,
        median_latency_s=config.median_latency_s,
        latency_sigma=config.latency_sigma,
        hang_rate=config.hang_rate,
    )
    questions = [f"{TOPICS[n % len(TOPICS)]}? (case {n})" for n in range(config.questions)]
    answers = {
        q: [page.path for page in pages[n * per : (n + 1) * per]] for n, q in enumerate(questions)
    }
    with run_world(WorldConfig(pages=pages, answers=answers, llm=FakeSGLang())) as web:
        async with Pipeline.from_settings(_settings(web.url, config)) as pipeline:
            pipeline.extractor.close()
            extractor = TimedExtractor(workers=pipeline.settings.fetch.extract_workers)
            pipeline.extractor = extractor
            if config.warm_up:
                await extractor.warm_up()
            timings = []
            for n, question in enumerate(questions):
                hanging = sum(page.hangs for page in pages[n * per : (n + 1) * per])
                timings.append(await _time_question(question, pipeline, extractor, hanging))
    return PromptReadyResult(config=config, questions=timings, pages_served=len(pages))


def _seconds(values: Sequence[float]) -> list[str]:
    return [f"{percentile(values, q) * 1000:.0f} ms" for q in (50, 90)] + [
        f"{max(values) * 1000:.0f} ms"
    ]


def report(result: PromptReadyResult) -> str:
    """The result as Markdown tables and target lines."""
    config = result.config
    measured = result.measured
    ours = [q.ours_s for q in measured]
    base = [q.baseline_s for q in measured if q.baseline_s is not None]
    ratios = [q.ratio for q in measured if q.ratio is not None]
    waiting = [q.read_s - (q.baseline_s or 0) for q in measured]
    packing = [q.ours_s - q.read_s for q in measured]
    with_hang = [q.ratio for q in measured if q.pages_hanging and q.ratio is not None]
    without = [q.ratio for q in measured if not q.pages_hanging and q.ratio is not None]
    rows = [
        ["ours: prompt ready", *_seconds(ours)],
        ["baseline: last used page extracted", *_seconds(base)],
        ["ours - baseline: waiting for pages not used", *_seconds(waiting)],
        ["ours - baseline: packing and prompt", *_seconds(packing)],
        ["ratio ours / baseline", *(f"{v:.2f}x" for v in _stats(ratios))],
        [f"ratio, {len(without)} questions without a hanging page", *_ratio_cells(without)],
        [f"ratio, {len(with_hang)} questions with a hanging page", *_ratio_cells(with_hang)],
    ]
    worst = max(ours)
    limit = config.deadline_s + 0.1
    p50 = percentile(ratios, 50)
    first = result.questions[0]
    lines = [
        f"{len(result.questions)} questions x {config.pages_per_question} pages "
        f"({result.pages_served} pages, {sum(q.pages_hanging for q in result.questions)} "
        f"hanging; {sum(q.pages_in_prompt for q in result.questions)} in prompts); "
        f"deadline {config.deadline_s:g} s, page timeout {config.page_timeout_s:g} s, "
        f"latency lognormal(median {config.median_latency_s:g} s, sigma "
        f"{config.latency_sigma:g}), extractor warm-up: {'yes' if config.warm_up else 'no'}",
        "",
        markdown_table(["", "p50", "p90", "max"], rows),
        "",
        f"first question (cold): ours {first.ours_s * 1000:.0f} ms, baseline "
        f"{(first.baseline_s or 0) * 1000:.0f} ms",
        f"target p50 ratio <= 1.2x: {'met' if p50 <= 1.2 else 'MISSED'} ({p50:.2f}x)",
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
