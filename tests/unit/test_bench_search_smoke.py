"""The follow-up and search-language benchmarks still run, and their results make sense."""

from __future__ import annotations

from bench.followups import report as followups_report
from bench.followups import run as run_followups
from bench.search_locale import load_corpus, measure


async def test_followups_bench_searches_every_pair_four_ways_and_the_rule_helps() -> None:
    results = await run_followups(rounds=1)
    overall = results.by_group[("all", "all")]
    assert results.pairs >= 100
    assert {tally.total for tally in overall.values()} == {results.pairs}
    assert overall["rule"].hits_at_1 > overall["raw"].hits_at_1
    shifts = [g for g in results.by_group if g[1] == "shift"]
    for group in shifts:  # a change of topic must not suffer from the rewrite
        tallies = results.by_group[group]
        assert tallies["rule"].hits_at_1 >= tallies["raw"].hits_at_1
    assert len(results.latency_ms["rule"]) == results.pairs
    assert "| all |" in followups_report(results)


def test_search_locale_bench_scores_each_language() -> None:
    rows = load_corpus()
    outcome = measure("stub", lambda text: "en", rows[:40], rounds=1)
    assert sum(outcome.total.values()) == 40
    assert outcome.correct["en"] == outcome.total["en"] > 0
    assert len(outcome.latencies_us) == 40
