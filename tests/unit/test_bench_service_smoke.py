"""The service benchmarks still run: each against a real ``searchqa serve``, tiny parameters."""

from __future__ import annotations

from bench.answer_start import StartConfig, measure_starts
from bench.answer_start import report as start_report
from bench.cached_answer import CachedConfig, measure_cached
from bench.cached_answer import report as cached_report
from bench.memory import MemoryConfig, measure_memory
from bench.memory import report as memory_report
from bench.stream_capacity import CapacityConfig, StreamTrace, measure_capacity
from bench.stream_capacity import report as capacity_report
from tests.fakes.sglang import tokenize

REASONING = "Okay, a short one.\n"
ANSWER = "Gardens cool the blocks around them."


async def test_stream_capacity_times_every_token_of_both_sides() -> None:
    config = CapacityConfig(
        levels=(3,), tokens_per_s=400, ramp_s=0.05, reasoning=REASONING, answer=ANSWER
    )
    [level] = await measure_capacity(config)
    assert level.clients == 3
    streams = [*level.baseline, *level.ours]
    assert len(streams) == 6
    assert all(isinstance(trace, StreamTrace) for trace in streams)
    traces = [trace for trace in streams if isinstance(trace, StreamTrace)]
    for trace in traces:
        assert trace.completed
        assert trace.status == 200
        assert len(trace.token_times) > len(tokenize(ANSWER))
        assert 0 < trace.answer_from < len(trace.token_times)
        assert trace.sent_at < trace.token_times[0]
        assert list(trace.token_times) == sorted(trace.token_times)
    base_counts = {len(t.token_times) for t in level.baseline if isinstance(t, StreamTrace)}
    ours_counts = {len(t.token_times) for t in level.ours if isinstance(t, StreamTrace)}
    assert base_counts == ours_counts  # every model token counted once, merged events or not
    assert level.server_cpu_s > 0
    assert "target >= 500 streams" in capacity_report([level], config)


async def test_cached_answer_pairs_each_replay_with_a_health_check() -> None:
    result = await measure_cached(CachedConfig(repeats=3, warm_up=1))
    assert len(result.runs) == 3
    for run in result.runs:
        assert run.events > 3
        assert 0 < run.first_event_s <= run.done_s
        assert run.healthz_s > 0
    assert "target p50 to `done` < 10 ms" in cached_report(result)


async def test_memory_samples_rss_at_each_checkpoint_of_the_mix() -> None:
    config = MemoryConfig(checkpoints=(20, 40), concurrency=4, states=("in-process", "redis"))
    results = await measure_memory(config)
    assert [result.state for result in results] == ["in-process", "redis"]
    for result in results:
        assert result.startup_rss_bytes > 10 * 1024 * 1024
        assert [point.requests for point in result.checkpoints] == [20, 40]
        assert all(point.rss_bytes > 0 for point in result.checkpoints)
        outcomes = result.outcomes
        assert set(outcomes) == {"done, cached", "done, fresh", "error event", "HTTP 422"}
        assert outcomes["error event"] == outcomes["HTTP 422"] == 2
        assert outcomes["done, cached"] + outcomes["done, fresh"] == 36
    assert "target RSS after 40 within 50 MB" in memory_report(results, config)


async def test_stream_capacity_with_two_workers_counts_every_worker() -> None:
    config = CapacityConfig(
        levels=(2,), tokens_per_s=400, ramp_s=0.05, reasoning=REASONING, answer=ANSWER, workers=2
    )
    [level] = await measure_capacity(config)
    ours = [trace for trace in level.ours if isinstance(trace, StreamTrace)]
    assert len(ours) == 2
    assert all(trace.completed for trace in ours)
    assert level.server_cpu_s > 0  # the workers' CPU, not only the idle supervisor's
    assert "2 worker(s)" in capacity_report([level], config)


async def test_answer_start_counts_server_cpu_over_completed_answers() -> None:
    config = StartConfig(answers=4, concurrency=2, warm_up=1, rounds=1)
    [run] = await measure_starts(config)
    assert run.tree == "this tree"
    assert run.completed == 4
    assert run.cpu_ms_per_answer > 0
    assert "this tree: median" in start_report([run], config)
