"""Follow-up search: does the searched query find the right document, and what does it cost?

``bench/data/followups.json`` holds short documents (English and Chinese) and follow-up pairs
(an earlier question, a follow-up, a hand-written standalone query, the document that answers
it), of four kinds: pronouns ("who created it?"), ellipsis ("license?", "价格呢？"), swaps
("what about Ruby?", "故宫呢？") and topic shifts, which must not carry earlier terms over.

The documents go into a real local index (SQLite FTS5, ``searchqa index``), and each pair is
searched with four queries, in the same process:

- ``raw``: the follow-up as written (what searchqa searched before);
- ``concat``: the earlier question and the follow-up together (the naive fix);
- ``rule``: ``followup.rule_rewrite``, what searchqa searches when the model cannot rewrite;
- ``reference``: the hand-written standalone query, what a model that rewrites well searches.

Latency: ``search_query`` per follow-up, with no history (no rewrite at all), by rule, and by
the model through the real client against the fake SGLang answering at once (so the figure is
searchqa's own overhead; a real server adds the prefill of the prompt and a few decoded
tokens, counted here with DeepSeek's tokenizer). Reproduce with::

    python -m bench.followups
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from searchqa.engines.local import LocalEngine
from searchqa.index.build import index_sources
from searchqa.llm.brief import OpenAIBriefModel
from searchqa.protocols import Turn
from searchqa.settings import IndexSettings, LLMSettings, Settings
from searchqa.steps.followup import rule_rewrite
from searchqa.steps.rewrite import RewriteMode, build_rewrite_prompt, search_query
from searchqa.tokens import load_token_counter
from tests.fakes.server import serve
from tests.fakes.sglang import FakeSGLang

DATA_PATH = Path(__file__).parent / "data" / "followups.json"
METHODS = ("raw", "concat", "rule", "reference")
ANSWER = "(an earlier answer)"


@dataclass(frozen=True, slots=True)
class Pair:
    lang: str
    kind: str
    previous: str
    follow_up: str
    reference: str
    target: str

    @property
    def history(self) -> list[Turn]:
        return [Turn("user", self.previous), Turn("assistant", ANSWER)]

    def query(self, method: str) -> str:
        if method == "raw":
            return self.follow_up
        if method == "concat":
            return f"{self.previous} {self.follow_up}"
        if method == "rule":
            return rule_rewrite(self.follow_up, self.history)
        return self.reference


@dataclass
class Tally:
    hits_at_1: int = 0
    hits_at_3: int = 0
    total: int = 0

    def add(self, rank: int | None) -> None:
        self.total += 1
        self.hits_at_1 += rank == 1
        self.hits_at_3 += rank is not None and rank <= 3

    def cell(self) -> str:
        return f"{self.hits_at_1 / self.total:.0%} / {self.hits_at_3 / self.total:.0%}"


@dataclass
class Results:
    pairs: int
    documents: int
    by_group: dict[tuple[str, str], dict[str, Tally]] = field(default_factory=dict)
    misses: dict[str, list[tuple[Pair, str]]] = field(default_factory=dict)
    latency_ms: dict[str, list[float]] = field(default_factory=dict)
    prompt_tokens: list[int] = field(default_factory=list)
    reply_tokens: list[int] = field(default_factory=list)


def load(path: Path = DATA_PATH) -> tuple[dict[str, tuple[str, str]], list[Pair]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    documents = {doc["id"]: (doc["title"], doc["text"]) for doc in data["documents"]}
    pairs = [Pair(**pair) for pair in data["pairs"]]
    unknown = {pair.target for pair in pairs} - set(documents)
    if unknown:
        raise ValueError(f"pairs name unknown documents: {sorted(unknown)}")
    return documents, pairs


async def build_index(documents: dict[str, tuple[str, str]], folder: Path) -> IndexSettings:
    docs = folder / "docs"
    docs.mkdir()
    for doc_id, (title, text) in documents.items():
        (docs / f"{doc_id}.md").write_text(f"# {title}\n\n{text}\n", encoding="utf-8")
    index = IndexSettings(path=folder / "index.sqlite3")
    report = await index_sources([str(docs)], settings=Settings(index=index))
    if report.added != len(documents):
        raise RuntimeError(f"indexed {report.added} of {len(documents)} documents")
    return index


async def rank_of(engine: LocalEngine, query: str, target: str) -> int | None:
    hits = await engine.search(query, language="en", max_results=3)
    names = [Path(hit.url.removeprefix("file://")).stem for hit in hits]
    return names.index(target) + 1 if target in names else None


async def measure_retrieval(pairs: Sequence[Pair], engine: LocalEngine, results: Results) -> None:
    for pair in pairs:
        for group in [(pair.lang, pair.kind), (pair.lang, "all"), ("all", "all")]:
            tallies = results.by_group.setdefault(group, {m: Tally() for m in METHODS})
            for method in METHODS:
                rank = await rank_of(engine, pair.query(method), pair.target)
                tallies[method].add(rank)
                if group == ("all", "all") and rank != 1 and method in ("rule", "raw"):
                    results.misses.setdefault(method, []).append((pair, pair.query(method)))


async def measure_latency(pairs: Sequence[Pair], rounds: int, results: Results) -> None:
    references = {pair.follow_up + pair.previous: pair.reference for pair in pairs}

    def reply(prompt: str) -> str:
        lines = prompt.splitlines()
        users = [line.removeprefix("User: ") for line in lines if line.startswith("User: ")]
        return references.get(users[-1] + users[0], users[-1])

    fake = FakeSGLang(brief_responder=reply)
    counter = load_token_counter()
    with serve(fake.app()) as server:
        model = OpenAIBriefModel(LLMSettings(base_url=f"{server.url}/v1"))
        try:
            await search_query("warm up", [Turn("user", "x")], model=model, model_id="m")
            for _ in range(rounds):
                for pair in pairs:
                    ways: list[tuple[str, list[Turn], RewriteMode]] = [
                        ("question (no history)", [], "auto"),
                        ("rule", pair.history, "rule"),
                        ("model (fake SGLang, instant)", pair.history, "auto"),
                    ]
                    for name, history, mode in ways:
                        start = time.perf_counter()
                        query = await search_query(
                            pair.follow_up,
                            history,
                            mode=mode,
                            model=model,
                            model_id="m",
                        )
                        elapsed = (time.perf_counter() - start) * 1000
                        results.latency_ms.setdefault(name, []).append(elapsed)
                        if name.startswith("model") and query.method != "model":
                            raise RuntimeError(f"the model path fell back: {query.note}")
        finally:
            await model.aclose()
    for pair in pairs:
        prompt = build_rewrite_prompt(pair.follow_up, pair.history)
        results.prompt_tokens.append(counter.count(prompt) + 8)  # + R1's special tokens
        results.reply_tokens.append(counter.count(pair.reference) + 1)


async def run(rounds: int) -> Results:
    documents, pairs = load()
    results = Results(pairs=len(pairs), documents=len(documents))
    with tempfile.TemporaryDirectory() as folder:
        index = await build_index(documents, Path(folder))
        await measure_retrieval(pairs, LocalEngine(index), results)
    await measure_latency(pairs, rounds, results)
    return results


def percentile(values: Sequence[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def report(results: Results) -> str:
    lines = [
        f"{results.pairs} follow-up pairs, {results.documents} documents in a local index; "
        "hit@1 / hit@3 (the right document first / in the top three):",
        "",
        "| pairs | n | raw follow-up | earlier + follow-up | rule | reference |",
        "|---|---|---|---|---|---|",
    ]
    order = sorted(results.by_group, key=lambda g: (g[0] == "all", g[0], g[1] == "all", g[1]))
    for group in order:
        tallies = results.by_group[group]
        name = "all" if group == ("all", "all") else f"{group[0]} {group[1]}"
        cells = " | ".join(tallies[m].cell() for m in METHODS)
        lines.append(f"| {name} | {tallies['raw'].total} | {cells} |")
    lines += ["", "| query by | p50 ms | p95 ms |", "|---|---|---|"]
    for name, values in results.latency_ms.items():
        p50, p95 = statistics.median(values), percentile(values, 95)
        lines.append(f"| {name} | {p50:.3f} | {p95:.3f} |")
    lines += [
        "",
        f"Rewrite prompt: median {statistics.median(results.prompt_tokens):.0f} tokens "
        f"(max {max(results.prompt_tokens)}); reply: median "
        f"{statistics.median(results.reply_tokens):.0f} tokens (max {max(results.reply_tokens)}).",
    ]
    for method, misses in results.misses.items():
        lines += ["", f"Not first with `{method}` ({len(misses)}):"]
        lines += [f"- [{p.lang} {p.kind}] {p.follow_up!r} -> {q!r}" for p, q in misses[:40]]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="latency rounds over all pairs")
    args = parser.parse_args(argv)
    print(report(asyncio.run(run(args.rounds))))


if __name__ == "__main__":
    main()
