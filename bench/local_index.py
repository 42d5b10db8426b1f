"""Local index: build, re-index and query times of the real index against a plain FTS5 table.

Writes a seeded corpus (``bench.corpus``) of .md/.txt files to a temporary folder and indexes it
the way ``searchqa index`` does (``index_sources``), then re-indexes it unchanged and with a share
of its files rewritten. The baseline, built in the same run from the same files and parser, is a
plain FTS5 table (unicode61: no stemming, no CJK grams) filled with one ``executemany``, queried
with the question's whitespace-separated terms OR'ed. Reproduce with::

    python -m bench.local_index
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shlex
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.corpus import CorpusGenerator, CorpusQuery, write_documents
from searchqa.engines.local import LocalEngine
from searchqa.files import parse_plain_document
from searchqa.index.build import IndexReport, index_sources
from searchqa.index.files import discover_files
from searchqa.index.store import IndexStore
from searchqa.index.tokenize import match_expression, query_terms
from searchqa.settings import IndexSettings, Settings

MAX_RESULTS = 8
"""What the pipeline asks an engine for by default (``SEARCHQA_SEARCH__MAX_RESULTS``)."""
WARM_UP_QUERIES = 20


@dataclass(frozen=True, slots=True)
class Targets:
    """Set before the first measurement; checked against a 10,000-document run."""

    build_s: float = 60.0
    unchanged_share: float = 0.15
    """Unchanged re-index time as a share of the full build."""
    changed_share: float = 0.20
    """Re-index after rewriting 1% of the files, as a share of the full build."""
    p50_ms: float = 20.0
    p99_ms: float = 100.0
    size_ratio: float = 3.0
    """Index file size against the plain table's."""
    zh_found_share: float = 0.95


@dataclass(slots=True)
class QuerySeries:
    """One way of querying: per-query latency and how many questions found anything."""

    name: str
    latencies_ms: list[float] = field(default_factory=list)
    found: dict[str, int] = field(default_factory=lambda: {"en": 0, "zh": 0})
    """Questions, per language, with at least one result."""
    found_source: dict[str, int] = field(default_factory=lambda: {"en": 0, "zh": 0})
    """Questions, per language, whose results include the document they were drawn from."""

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p99_ms(self) -> float:
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[98]


@dataclass(slots=True)
class IndexBenchResult:
    documents: int
    zh_documents: int
    corpus_bytes: int
    queries: list[CorpusQuery]
    rounds: int
    build_s: float = 0.0
    baseline_build_s: float = 0.0
    baseline_parse_s: float = 0.0
    """The part of the baseline build spent reading and parsing files (the same parser)."""
    unchanged_s: float = 0.0
    unchanged_report: IndexReport = field(default_factory=IndexReport)
    changed: int = 0
    changed_s: float = 0.0
    changed_report: IndexReport = field(default_factory=IndexReport)
    index_bytes: int = 0
    baseline_bytes: int = 0
    series: list[QuerySeries] = field(default_factory=list)
    """LocalEngine.search, the store kept open, then the baseline (last)."""
    load_average: tuple[float, float] = (0.0, 0.0)
    """The machine's one-minute load average before and after."""


def run_benchmark(
    *,
    documents: int = 10_000,
    queries: int = 200,
    rounds: int = 2,
    seed: int = 7,
    changed_share: float = 0.01,
    workdir: Path | None = None,
) -> IndexBenchResult:
    """Generate, write, index, re-index and query; everything in a temporary folder.

    Synchronous: the blocking parts (files, the baseline) run plainly, and each use of the
    async API gets its own event loop, as it does in ``searchqa index`` and ``searchqa ask``.
    """
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="searchqa-bench-", dir=workdir) as tmp:
        root = Path(tmp)
        folder, index_path, plain_path = root / "corpus", root / "index.sqlite3", root / "plain.db"
        generator = CorpusGenerator(seed)
        docs = generator.documents(documents)
        questions = generator.queries(queries, docs)
        result = IndexBenchResult(
            documents=len(docs),
            zh_documents=sum(doc.language == "zh" for doc in docs),
            corpus_bytes=write_documents(folder, docs),
            queries=questions,
            rounds=rounds,
        )
        settings = Settings(index=IndexSettings(path=index_path))

        def index_folder() -> IndexReport:
            return asyncio.run(index_sources([str(folder)], settings=settings))

        started = time.perf_counter()
        result.baseline_parse_s = build_plain_table(plain_path, folder)
        result.baseline_build_s = time.perf_counter() - started
        started = time.perf_counter()
        report = index_folder()
        result.build_s = time.perf_counter() - started
        if report.added != len(docs):
            raise RuntimeError(f"indexed {report.added} of {len(docs)} files: {report.errors[:3]}")
        result.index_bytes = _database_bytes(index_path)
        result.baseline_bytes = _database_bytes(plain_path)

        started = time.perf_counter()
        result.unchanged_report = index_folder()
        result.unchanged_s = time.perf_counter() - started

        rng = random.Random(f"{seed}:changes")
        picked = rng.sample(range(len(docs)), max(1, round(len(docs) * changed_share)))
        write_documents(folder, [generator.document(number, revision=1) for number in picked])
        result.changed = len(picked)
        started = time.perf_counter()
        result.changed_report = index_folder()
        result.changed_s = time.perf_counter() - started

        result.series = measure_queries(index_path, plain_path, questions, rounds)
    result.load_average = (load_before, os.getloadavg()[0])
    return result


def build_plain_table(path: Path, folder: Path) -> float:
    """The baseline: read and parse every file, then one executemany into a plain FTS5 table.

    Returns the seconds spent reading and parsing, before the first insert.
    """
    started = time.perf_counter()
    rows = []
    for file in discover_files(folder.resolve()):
        doc = parse_plain_document(file.read_text(encoding="utf-8"), file.name)
        rows.append((file.as_uri(), doc.title, doc.text))
    parse_s = time.perf_counter() - started
    db = sqlite3.connect(path)
    try:
        db.execute(
            "CREATE VIRTUAL TABLE plain USING fts5(url UNINDEXED, title, body,"
            " tokenize = 'unicode61')"
        )
        with db:
            db.executemany("INSERT INTO plain (url, title, body) VALUES (?, ?, ?)", rows)
    finally:
        db.close()
    return parse_s


def plain_match(query: str) -> str | None:
    """The baseline's MATCH string: the question's whitespace-separated terms, quoted, OR'ed."""
    terms = ['"' + term.replace('"', '""') + '"' for term in query.split()]
    return " OR ".join(terms) or None


def measure_queries(
    index_path: Path, plain_path: Path, questions: Sequence[CorpusQuery], rounds: int
) -> list[QuerySeries]:
    """Each question through each way in turn, ``rounds`` times; found counts from round one.

    All three run on one event loop; the store and the baseline are called directly on it.
    """
    engine = LocalEngine(IndexSettings(path=index_path))
    store = IndexStore.open_reader(index_path)
    if store is None:
        raise RuntimeError(f"no index at {index_path}")
    plain = sqlite3.connect(f"{plain_path.resolve().as_uri()}?mode=ro", uri=True)

    async def through_engine(question: CorpusQuery) -> list[str]:
        hits = await engine.search(
            question.text, language=question.language, max_results=MAX_RESULTS
        )
        return [hit.url for hit in hits]

    async def through_store(question: CorpusQuery) -> list[str]:
        match = match_expression(query_terms(question.text))
        return [m.url for m in store.search(match, MAX_RESULTS)] if match else []

    async def through_plain(question: CorpusQuery) -> list[str]:
        match = plain_match(question.text)
        if match is None:
            return []
        rows = plain.execute(
            "SELECT url, title, body FROM plain WHERE plain MATCH ? ORDER BY rank LIMIT ?",
            (match, MAX_RESULTS),
        ).fetchall()
        return [str(row[0]) for row in rows]

    ways: list[tuple[QuerySeries, Callable[[CorpusQuery], Awaitable[list[str]]]]] = [
        (QuerySeries("LocalEngine.search"), through_engine),
        (QuerySeries("IndexStore.search, connection kept open"), through_store),
        (QuerySeries("plain FTS5 (baseline)"), through_plain),
    ]

    async def run_all() -> None:
        for question in questions[:WARM_UP_QUERIES]:
            for _, run in ways:
                await run(question)
        for round_number in range(rounds):
            for question in questions:
                for series, run in ways:
                    started = time.perf_counter()
                    urls = await run(question)
                    series.latencies_ms.append((time.perf_counter() - started) * 1000)
                    if round_number == 0:
                        source = "/" + question.source
                        series.found[question.language] += bool(urls)
                        series.found_source[question.language] += any(
                            url.endswith(source) for url in urls
                        )

    try:
        asyncio.run(run_all())
    finally:
        store.close()
        plain.close()
    return [series for series, _ in ways]


def render(result: IndexBenchResult, command: str, targets: Targets = Targets()) -> str:
    """The Markdown section body: setup, tables, then each target as met or missed."""
    docs, base = result.documents, result.baseline_build_s
    ours, plain = result.series[0], result.series[-1]
    zh_total = sum(q.language == "zh" for q in result.queries)
    en_total = len(result.queries) - zh_total
    size_ratio = result.index_bytes / result.baseline_bytes
    lines = [
        f"Command: `{command}`",
        "",
        f"Corpus: {docs:,} files ({docs - result.zh_documents:,} English,"
        f" {result.zh_documents:,} Chinese; .md and .txt), {result.corpus_bytes / 1e6:.1f} MB,"
        f" {result.corpus_bytes / docs / 1024:.1f} KiB a file on average. Queries: {zh_total}"
        f" Chinese, {en_total} English, {result.rounds} rounds, {MAX_RESULTS} results each."
        f" Load average (1 min) {result.load_average[0]:.2f} before, {result.load_average[1]:.2f}"
        " after.",
        "",
        "| build | seconds | files/s | vs plain FTS5 build |",
        "|---|---|---|---|",
        _build_row("plain FTS5, executemany (baseline)", base, docs, base),
        _build_row("index_sources, empty index", result.build_s, docs, base),
        _build_row(
            f"index_sources again, unchanged ({result.unchanged_report.unchanged:,} unchanged)",
            result.unchanged_s,
            docs,
            base,
        ),
        _build_row(
            f"index_sources after rewriting {result.changed} files"
            f" ({result.changed_report.updated} updated)",
            result.changed_s,
            docs,
            base,
        ),
        "",
        f"Both builds read and parse each file with `parse_plain_document`: that took"
        f" {result.baseline_parse_s:.2f} s of the baseline's {base:.2f} s"
        f" ({result.baseline_parse_s / docs * 1000:.2f} ms a file).",
        "",
        f"Index size: {result.index_bytes / 1e6:.1f} MB against {result.baseline_bytes / 1e6:.1f}"
        f" MB for the plain table ({size_ratio:.2f}×).",
        "",
        f"Found = at least one result; source = the document the question was drawn from is among"
        f" the {MAX_RESULTS} results.",
        "",
        "| query path | p50 ms | p99 ms | p50 vs baseline | zh found | zh source"
        " | en found | en source |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for series in result.series:
        lines.append(
            f"| {series.name} | {series.p50_ms:.2f} | {series.p99_ms:.2f}"
            f" | {series.p50_ms / plain.p50_ms:.2f}×"
            f" | {series.found['zh']}/{zh_total} | {series.found_source['zh']}/{zh_total}"
            f" | {series.found['en']}/{en_total} | {series.found_source['en']}/{en_total} |"
        )
    zh_share = ours.found["zh"] / zh_total if zh_total else 1.0
    checks = [
        ("full build", f"≤ {targets.build_s:.0f} s", f"{result.build_s:.1f} s",
         result.build_s <= targets.build_s),
        ("unchanged re-index", f"≤ {targets.unchanged_share:.0%} of full build",
         f"{result.unchanged_s / result.build_s:.1%}",
         result.unchanged_s <= targets.unchanged_share * result.build_s),
        ("re-index, 1% rewritten", f"≤ {targets.changed_share:.0%} of full build",
         f"{result.changed_s / result.build_s:.1%}",
         result.changed_s <= targets.changed_share * result.build_s),
        ("LocalEngine.search p50", f"≤ {targets.p50_ms:.0f} ms", f"{ours.p50_ms:.2f} ms",
         ours.p50_ms <= targets.p50_ms),
        ("LocalEngine.search p99", f"≤ {targets.p99_ms:.0f} ms", f"{ours.p99_ms:.2f} ms",
         ours.p99_ms <= targets.p99_ms),
        ("index size", f"≤ {targets.size_ratio:.0f}× plain", f"{size_ratio:.2f}×",
         size_ratio <= targets.size_ratio),
        ("Chinese queries finding ≥ 1", f"≥ {targets.zh_found_share:.0%}", f"{zh_share:.1%}",
         zh_share >= targets.zh_found_share),
    ]  # fmt: skip
    lines += ["", "| target | goal | measured | met |", "|---|---|---|---|"]
    lines += [
        f"| {name} | {goal} | {got} | {'yes' if ok else 'no'} |" for name, goal, got, ok in checks
    ]
    return "\n".join(lines)


def _build_row(name: str, seconds: float, docs: int, baseline_s: float) -> str:
    return f"| {name} | {seconds:.2f} | {docs / seconds:,.0f} | {seconds / baseline_s:.2f}× |"


def _database_bytes(path: Path) -> int:
    """The database file plus any WAL left beside it."""
    files = (path, path.with_name(path.name + "-wal"))
    return sum(file.stat().st_size for file in files if file.exists())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2, help="timing rounds over the queries")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    given = sys.argv[1:] if argv is None else list(argv)
    command = shlex.join(["python", "-m", "bench.local_index", *given])
    result = run_benchmark(
        documents=args.documents, queries=args.queries, rounds=args.rounds, seed=args.seed
    )
    print(render(result, command))


if __name__ == "__main__":
    main()
