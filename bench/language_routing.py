"""Language routing: accuracy and latency of ``detect_language`` against plain langdetect.

Runs both routers over ``bench/data/queries.tsv`` (``label<TAB>query``, label ``zh`` or ``en``) in
the same process, so the latency ratio holds on a noisy machine. Reproduce with::

    python -m bench.language_routing
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from langdetect import DetectorFactory, LangDetectException, detect

from searchqa.steps.language import detect_language

Label = Literal["zh", "en"]
Router = Callable[[str], Label]

QUERIES_PATH = Path(__file__).parent / "data" / "queries.tsv"
_BASELINE_EXAMPLES = 10  # the baseline misroutes many; show a sample


@dataclass(frozen=True, slots=True)
class LabeledQuery:
    label: Label
    query: str


@dataclass(frozen=True, slots=True)
class RoutingResult:
    """How one router did on the corpus."""

    name: str
    zh_correct: int
    zh_total: int
    en_correct: int
    en_total: int
    misrouted: list[tuple[LabeledQuery, Label]]
    latencies_us: list[float]

    @property
    def zh_accuracy(self) -> float:
        return self.zh_correct / self.zh_total

    @property
    def en_accuracy(self) -> float:
        return self.en_correct / self.en_total

    @property
    def p50_us(self) -> float:
        return statistics.median(self.latencies_us)

    @property
    def p99_us(self) -> float:
        return statistics.quantiles(self.latencies_us, n=100, method="inclusive")[98]


def load_queries(path: Path = QUERIES_PATH) -> list[LabeledQuery]:
    """Read the labelled corpus; the first line is a header."""
    queries: list[LabeledQuery] = []
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        if not line.strip():
            continue
        label, query = line.split("\t", 1)
        if label not in ("zh", "en"):
            raise ValueError(f"bad label {label!r} in {path}")
        queries.append(LabeledQuery("zh" if label == "zh" else "en", query))
    return queries


def route_with_langdetect(text: str) -> Label:
    """The baseline: langdetect's best guess, ``zh-cn``/``zh-tw`` as Chinese."""
    try:
        return "zh" if detect(text).startswith("zh") else "en"
    except LangDetectException:  # no features: empty, digits, emoji
        return "en"


def measure(
    name: str, router: Router, queries: Sequence[LabeledQuery], rounds: int
) -> RoutingResult:
    """Route every query ``rounds`` times; accuracy from the first round, latency from all."""
    router("warm up")  # langdetect loads its profiles on first use
    latencies: list[float] = []
    answers: list[Label] = []
    for round_number in range(rounds):
        for item in queries:
            started = time.perf_counter()
            answer = router(item.query)
            latencies.append((time.perf_counter() - started) * 1e6)
            if round_number == 0:
                answers.append(answer)
    pairs = list(zip(queries, answers, strict=True))
    return RoutingResult(
        name=name,
        zh_correct=sum(item.label == answer == "zh" for item, answer in pairs),
        zh_total=sum(item.label == "zh" for item in queries),
        en_correct=sum(item.label == answer == "en" for item, answer in pairs),
        en_total=sum(item.label == "en" for item in queries),
        misrouted=[(item, answer) for item, answer in pairs if answer != item.label],
        latencies_us=latencies,
    )


def render(results: Sequence[RoutingResult], queries: Sequence[LabeledQuery]) -> str:
    """A Markdown report: a table row per router (the last is the baseline), then misroutes."""
    baseline = results[-1]
    lines = [
        f"{len(queries)} queries: {results[0].zh_total} Chinese, {results[0].en_total} other.",
        "",
        "| router | zh accuracy | non-zh accuracy | p50 µs | p99 µs | p50 vs langdetect |",
        "|---|---|---|---|---|---|",
    ]
    for result in results:
        lines.append(
            f"| {result.name} | {result.zh_accuracy:.1%} ({result.zh_correct}/{result.zh_total}) "
            f"| {result.en_accuracy:.1%} ({result.en_correct}/{result.en_total}) "
            f"| {result.p50_us:.1f} | {result.p99_us:.1f} "
            f"| {result.p50_us / baseline.p50_us:.3f}× |"
        )
    for result, shown in ((results[0], None), (baseline, _BASELINE_EXAMPLES)):
        lines += ["", f"Misrouted by {result.name} ({len(result.misrouted)}):"]
        lines += [
            f"- `{item.query}`: expected {item.label}, got {answer}"
            for item, answer in result.misrouted[:shown]
        ]
        if shown is not None and len(result.misrouted) > shown:
            lines.append(f"- … and {len(result.misrouted) - shown} more")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--queries", type=Path, default=QUERIES_PATH)
    parser.add_argument("--rounds", type=int, default=5, help="timing rounds over the corpus")
    args = parser.parse_args(argv)
    DetectorFactory.seed = 0  # langdetect is randomised; make the baseline repeatable
    queries = load_queries(args.queries)
    results = [
        measure("detect_language", detect_language, queries, args.rounds),
        measure("langdetect.detect", route_with_langdetect, queries, args.rounds),
    ]
    print(render(results, queries))


if __name__ == "__main__":
    main()
