"""The arithmetic and parsing the GPU benchmark reports with."""

from __future__ import annotations

import math

import pytest

from bench.gpu.sections import overhead, summary
from bench.gpu.upstream import RawStream, parse_metrics, words_prompt

SGLANG_METRICS = """\
# HELP sglang:num_running_reqs The number of running requests.
# TYPE sglang:num_running_reqs gauge
sglang:num_running_reqs{engine_type="unified",model_name="default",tp_rank="0"} 3.0
# TYPE sglang:num_requests_total counter
sglang:num_requests_total{engine_type="unified",is_streaming="true",model_name="default"} 7.0
sglang:num_requests_total{engine_type="unified",is_streaming="false",model_name="default"} 2.0
sglang:num_requests_created{engine_type="unified",is_streaming="true"} 1.7e+09
process_open_fds 12.0
"""


def test_metrics_are_summed_over_label_sets_and_comments_skipped() -> None:
    values = parse_metrics(SGLANG_METRICS)
    assert values["sglang:num_requests_total"] == 9.0
    assert values["sglang:num_running_reqs"] == 3.0
    assert values["process_open_fds"] == 12.0
    assert "sglang:num_queue_reqs" not in values
    assert not any(name.startswith("#") for name in values)


def test_overhead_is_the_gap_at_each_percentile_as_a_share_of_sglang() -> None:
    raw = [0.100, 0.200, 0.300, 0.400, 0.500]
    ours = [0.110, 0.210, 0.310, 0.420, 0.520]
    result = overhead(ours, raw)
    assert result["p50_added_ms"] == pytest.approx(10.0)
    assert result["p50_share"] == pytest.approx(0.010 / 0.300)
    assert result["p90_added_ms"] == pytest.approx(20.0)
    assert result["raw"]["n"] == 5
    assert result["ours"]["max_ms"] == pytest.approx(520.0)


def test_summary_of_nothing_is_not_a_number() -> None:
    assert math.isnan(summary([])["p50_ms"])


def test_decode_rate_counts_tokens_after_the_first() -> None:
    stream = RawStream(ttft_s=0.5, total_s=1.5, tokens=101)
    assert stream.decode_tok_s == pytest.approx(100.0)
    assert RawStream(ttft_s=None, total_s=1.0, tokens=0).decode_tok_s is None


def test_words_prompt_is_reproducible_and_sized_in_words() -> None:
    assert words_prompt(50, seed=1) == words_prompt(50, seed=1)
    assert words_prompt(50, seed=1) != words_prompt(50, seed=2)
    assert len(words_prompt(50, seed=1).split()) == 50
