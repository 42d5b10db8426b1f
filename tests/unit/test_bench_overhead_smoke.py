"""The service-overhead benchmark still runs: a real ``searchqa serve``, tiny parameters."""

from __future__ import annotations

from bench.service_overhead import OverheadConfig, measure, report


async def test_service_overhead_pairs_each_answer_with_the_same_prompt_sent_raw() -> None:
    config = OverheadConfig(questions=2, single_rounds=2, concurrency=2, crowd_rounds=1,
                            prefill_s=0.05)  # fmt: skip
    data = await measure(config)

    for name, pairs in (("x1", 2), ("x2", 2)):
        section = data[name]
        assert section["prompt_tokens_equal"] == section["ours"]["n"] == pairs
        assert section["prompt_tokens_differ"] == section["failed"] == 0
        assert all(ours > 0 and raw >= 50 for ours, raw in section["pairs_ms"])  # the prefill
    assert data["compose"]["first"]["p50_ms"] > 0
    assert data["compose"]["again"]["p50_ms"] > 0
    table = report({"this tree": data})
    assert "| this tree | x1 |" in table
    assert "pages seen before" in table
