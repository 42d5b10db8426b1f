"""The pipeline benchmarks still run: each with a tiny configuration, results checked for sense."""

from __future__ import annotations

from bench.first_token import FirstTokenConfig, measure_first_token
from bench.first_token import report as first_token_report
from bench.loop_lag import LoopLagConfig, measure_loop_lag
from bench.loop_lag import report as loop_lag_report
from bench.prompt_ready import PromptReadyConfig, measure_prompt_ready
from bench.prompt_ready import report as prompt_ready_report
from bench.simweb import SimPage, article_html, draw_pages, percentile


def test_simulated_pages_have_the_drawn_size_and_an_article() -> None:
    pages = draw_pages(20, seed=3, min_kb=5, max_kb=200, hang_rate=0.5)
    assert all(5 * 1024 <= page.size <= 200 * 1024 for page in pages)
    assert any(page.hangs for page in pages)
    assert not all(page.hangs for page in pages)
    page = SimPage("/p/1", size=60_000, latency_s=0, hangs=False, language="en", seed=9)
    html = article_html(page)
    assert abs(len(html.encode()) - page.size) < page.size * 0.05
    assert "<article>" in html
    assert article_html(page) == html  # the same seed makes the same page
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5


async def test_prompt_ready_counts_every_page_of_every_question() -> None:
    config = PromptReadyConfig(
        questions=2,
        pages_per_question=3,
        deadline_s=10,
        hang_rate=0,
        median_latency_s=0.02,
        latency_sigma=0.3,
        max_kb=20,
        warm_up=True,
    )
    result = await measure_prompt_ready(config)
    assert len(result.questions) == 2
    for question in result.questions:
        assert question.pages_in_prompt == 3
        assert len(question.arrivals_s) == 3
        assert question.baseline_s is not None
        assert 0 < question.search_s < question.read_s
        assert 0 < question.baseline_s <= question.read_s <= question.ours_s
    assert "target p50 ratio" in prompt_ready_report(result)


async def test_loop_lag_probes_every_scenario() -> None:
    config = LoopLagConfig(
        questions=2,
        pages_per_question=2,
        min_kb=5,
        max_kb=20,
        median_latency_s=0.02,
        idle_s=0.1,
        workers=1,
    )
    runs = await measure_loop_lag(config)
    assert [run.name.split(":")[0] for run in runs] == [
        "idle loop (baseline)",
        "ours",
        "ours",
        "extraction on the loop (baseline)",
    ]
    for run in runs:
        assert run.lags_s
        assert len(run.busy_s) == len(run.lags_s)
        assert min(run.lags_s) > -0.001
    assert [run.pages_in_prompts for run in runs] == [0, 4, 4, 4]
    assert "target p99 lag" in loop_lag_report(runs, config)


async def test_first_token_pairs_each_run_with_a_baseline() -> None:
    config = FirstTokenConfig(runs=2, warm_up_runs=0, prefill_s=0.02, tokens_per_s=500)
    runs = await measure_first_token(config)
    assert len(runs) == 2
    for run in runs:
        assert run.baseline_s > config.prefill_s
        assert config.prefill_s < run.ours_s <= run.request_s
    assert "target p50 overhead" in first_token_report(runs, config)
