"""The service's time before the model request, on a CPU, against the fake SGLang.

The CPU rehearsal of the GPU benchmark's first-token sections (``bench.gpu.sections``): the
simulated web serves the GPU run's pages (20 questions, 8 pages of 30-120 KB each, so about
9,000 prompt tokens), ``searchqa serve`` answers with its caches warm, and the fake SGLang
stands in for the GPU. It holds one request at a time (``max_running_requests=1``) and waits
``--prefill`` seconds before each first token, so requests sent together get their first
token one prefill after another, as on one GPU. Ours: a client of the service's SSE route.
Baseline, same run: a raw client sending the fake exactly the prompt the service sent for the
same question (recorded by the fake during the warm-up), at the same concurrency.

The difference is the service's own time: search and page reads (cached here), packing,
prompt building, the answer session and the HTTP hops. Packing alone is timed too, in this
process: ``compose_search_prompt`` for each question's extracted pages, the first time the
pages are seen and again. Reproduce with::

    python -m bench.service_overhead --out /tmp/overhead.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.gpu import sections
from bench.gpu.measure import PAGES_PER_QUESTION, GpuConfig, searchqa_env
from bench.gpu.through import ask
from bench.gpu.upstream import Upstream
from bench.service import run_service
from bench.simweb import (
    WorldConfig,
    article_html,
    assign_pages,
    draw_pages,
    markdown_table,
    percentile,
    run_world,
)
from searchqa.documents import Page
from searchqa.protocols import ModelInfo
from searchqa.settings import Settings
from searchqa.steps.compose import compose_search_prompt
from searchqa.steps.extract import extract_main_text
from searchqa.tokens import load_token_counter
from tests.fakes.server import serve
from tests.fakes.sglang import FakeSGLang


@dataclass(frozen=True, slots=True)
class OverheadConfig:
    questions: int = 20
    single_rounds: int = 12
    concurrency: int = 16
    crowd_rounds: int = 3
    prefill_s: float = 0.2
    max_tokens: int = 8


async def _recorded_prompts(fake: FakeSGLang, questions: Sequence[str]) -> dict[str, str]:
    """The user message the service sent for each question, in the order they were asked."""
    chats = [r for r in fake.requests if r.path.endswith("/chat/completions")]
    if len(chats) != len(questions):
        raise RuntimeError(f"{len(chats)} model requests for {len(questions)} questions")
    return {
        q: str(r.body["messages"][-1]["content"]) for q, r in zip(questions, chats, strict=True)
    }


def time_composing(pages: dict[str, Page], answers: dict[str, list[str]]) -> dict[str, Any]:
    """Milliseconds of ``compose_search_prompt`` per question: pages first seen, then again."""
    counter = load_token_counter()
    model = ModelInfo(id="deepseek-ai/DeepSeek-R1", context_length=32768)
    settings = Settings()
    rounds: dict[str, list[float]] = {"first": [], "again": []}
    for name in rounds:
        for question, paths in answers.items():
            started = time.perf_counter()
            compose_search_prompt(
                question, [pages[path] for path in paths], language="en", cur_date="today",
                history=(), model=model, settings=settings, counter=counter,
            )  # fmt: skip
            rounds[name].append(time.perf_counter() - started)
    return {
        name: {"p50_ms": percentile(times, 50) * 1000, "p90_ms": percentile(times, 90) * 1000}
        for name, times in rounds.items()
    }


def extracted_pages(sim_pages: Sequence[Any], base: str) -> dict[str, Page]:
    """Each simulated page as the extractor reads it, by path."""
    pages = {}
    for page in sim_pages:
        text = extract_main_text(article_html(page), base + page.path)
        if text is not None:
            pages[page.path] = Page(url=base + page.path, title=text.title, text=text.text)
    return pages


async def measure(config: OverheadConfig) -> dict[str, Any]:
    """Both first-token sections, packing alone, and the prompts' sizes."""
    fake = FakeSGLang(
        reasoning="Okay. ", answer="Done.", first_token_delay_s=config.prefill_s,
        max_running_requests=1,
    )  # fmt: skip
    pages = draw_pages(
        config.questions * PAGES_PER_QUESTION, seed=11, min_kb=30, max_kb=120,
        median_latency_s=0.005, latency_sigma=0.1, hang_rate=0.0, zh_share=0.0,
    )  # fmt: skip
    answers = assign_pages(pages, PAGES_PER_QUESTION)
    questions = list(answers)
    result: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S")}
    load_token_counter().count("warm up")
    result["compose"] = time_composing(extracted_pages(pages, "http://127.0.0.1:8"), answers)
    with (
        serve(fake.app()) as sglang,
        run_world(WorldConfig(pages=pages, answers=answers)) as world,
        tempfile.TemporaryDirectory(prefix="searchqa-overhead-") as home,
    ):
        gpu = GpuConfig(sglang=sglang.url, out=Path(home))
        env = searchqa_env(world, gpu, Path(home, "index.sqlite3"),
                   SEARCHQA_LLM__MAX_TOKENS=str(config.max_tokens))  # fmt: skip
        upstream = Upstream(sglang.url)
        await upstream.start()
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
        async with (
            run_service(env) as service,
            httpx.AsyncClient(timeout=600, limits=limits, trust_env=False) as client,
        ):
            for question in questions:  # one by one: the fake records them in this order
                warm = await ask(client, service.url, question)
                if warm.error:
                    raise RuntimeError(f"warm-up failed: {warm.error}")
            prompts = await _recorded_prompts(fake, questions)
            result["prompt_chars"] = [min(map(len, prompts.values())),
                                      max(map(len, prompts.values()))]  # fmt: skip
            for name, concurrency, rounds in (
                ("x1", 1, config.single_rounds),
                (f"x{config.concurrency}", config.concurrency, config.crowd_rounds),
            ):
                result[name] = await sections.first_token(
                    upstream, client, service.url, prompts, concurrency=concurrency,
                    rounds=rounds, max_tokens=config.max_tokens, cold=True,
                )  # fmt: skip
        await upstream.aclose()
    return result


def report(runs: dict[str, dict[str, Any]]) -> str:
    """One row per code version and concurrency; then packing alone."""
    rows = []
    for label, data in runs.items():
        for name in [key for key in data if key.startswith("x")]:
            section = data[name]
            ours, raw = section["ours"], section["raw"]
            fetch = section["service_search_and_fetch"]
            rows.append([
                label, name, f"{ours['p50_ms']:.0f} / {ours['p90_ms']:.0f}",
                f"{raw['p50_ms']:.0f} / {raw['p90_ms']:.0f}",
                f"{section['p50_added_ms']:+.0f} / {section['p90_added_ms']:+.0f}",
                f"{fetch['p50_ms']:.0f} / {fetch['p90_ms']:.0f}",
                f"{section['prompt_tokens_equal']}/{ours['n']}",
            ])  # fmt: skip
    headers = ["code", "at once", "ours TTFT p50 / p90", "raw TTFT p50 / p90",
               "added p50 / p90", "search+read p50 / p90", "same prompt tokens"]  # fmt: skip
    packing = [
        [label] + [f"{data['compose'][name]['p50_ms']:.1f} / {data['compose'][name]['p90_ms']:.1f}"
                   for name in ("first", "again")]
        for label, data in runs.items()
    ]  # fmt: skip
    headers_packing = ["code", "packing, pages first seen p50 / p90 ms", "pages seen before"]
    return markdown_table(headers, rows) + "\n\n" + markdown_table(headers_packing, packing)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.service_overhead", description=__doc__)
    parser.add_argument("--out", type=Path, help="append this run to a JSON file of runs")
    parser.add_argument("--label", default="this tree", help="name of the code version run")
    parser.add_argument("--prefill", type=float, default=0.2, metavar="SECONDS")
    parser.add_argument("--questions", type=int, default=20)
    args = parser.parse_args(argv)
    config = OverheadConfig(questions=args.questions, prefill_s=args.prefill)
    data = asyncio.run(measure(config))
    runs: dict[str, dict[str, Any]] = {}
    if args.out and args.out.exists():
        runs = json.loads(args.out.read_text())
    runs[args.label] = data
    if args.out:
        args.out.write_text(json.dumps(runs, indent=1))
    print(report(runs))


if __name__ == "__main__":
    main()
