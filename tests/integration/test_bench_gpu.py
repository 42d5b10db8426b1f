"""The GPU benchmark's logic against the fake SGLang (real local servers, no GPU).

The fake queues like SGLang's scheduler, reports SGLang's metric names and refuses with its
queue-full chunk, so every check the benchmark makes on the real server runs here too.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from bench.gpu.measure import GpuConfig, measure, small
from bench.gpu.upstream import FINISHED, QUEUED, RUNNING, Upstream, chat_body, stream_raw
from tests.fakes.server import serve
from tests.fakes.sglang import QUEUE_FULL, FakeSGLang


def _fake() -> FakeSGLang:
    return FakeSGLang(
        reasoning="word " * 3000,
        answer="done",
        first_token_delay_s=0.05,
        token_delay_s=0.01,
        max_running_requests=4,
        max_queued_requests=3,
    )


async def test_fake_refuses_with_sglangs_queue_full_chunk_and_counts_in_metrics() -> None:
    fake = FakeSGLang(first_token_delay_s=0.3, max_running_requests=1, max_queued_requests=1)
    with serve(fake.app()) as server:
        upstream = Upstream(server.url)
        await upstream.start()
        body = chat_body(upstream.model, "Who?", 8)
        try:
            running = asyncio.ensure_future(stream_raw(upstream.client, upstream.chat_url, body))
            await upstream.wait_metric(RUNNING, at_least=1, timeout_s=5, interval_s=0.01)
            waiting = asyncio.ensure_future(stream_raw(upstream.client, upstream.chat_url, body))
            await upstream.wait_metric(QUEUED, at_least=1, timeout_s=5, interval_s=0.01)
            refused = await stream_raw(upstream.client, upstream.chat_url, body, keep_lines=True)
            first, second = await running, await waiting
            metrics = await upstream.metrics()
        finally:
            await upstream.aclose()
    assert refused.status == 200
    assert refused.ttft_s is None
    assert len(refused.lines) == 3  # the error is the first chunk: no role chunk before it
    error = json.loads(refused.lines[0][5:])["error"]
    assert error == {
        "object": "error",
        "message": QUEUE_FULL,
        "type": "SERVICE_UNAVAILABLE",
        "param": None,
        "code": 503,
    }
    assert json.loads(refused.lines[1][5:])["usage"]["total_tokens"] == 0
    assert refused.lines[2] == "data: [DONE]"
    assert first.usage is not None
    assert second.usage is not None
    assert metrics[FINISHED] == 2
    assert metrics["sglang:num_aborted_requests_total"] == 1
    assert metrics[RUNNING] == 0


def test_fake_flushes_its_cache_like_sglang() -> None:
    with serve(FakeSGLang().app()) as server:
        response = httpx.post(server.url + "/flush_cache", params={"timeout": 5})
    assert response.status_code == 200
    assert response.text.startswith("Cache flushed.")


@pytest.mark.slow
async def test_every_section_runs_against_the_fake(tmp_path: Path) -> None:
    with serve(_fake().app()) as server:
        data = await measure(small(GpuConfig(sglang=server.url, out=tmp_path)))
    assert json.loads((tmp_path / "results.json").read_text())["model"] == data["model"]
    crashed = [name for name, value in data.items()
               if isinstance(value, dict) and isinstance(value.get("failed"), str)]  # fmt: skip
    assert not crashed
    for name in ("ttft_x1_cold", "ttft_x1_warm", "ttft_x3_cold"):
        section = data[name]
        assert section["prompt_tokens_differ"] == 0  # the raw client sent the service's prompt
        assert section["prompt_tokens_equal"] == section["ours"]["n"] > 0
        assert section["ours"]["p50_ms"] > section["raw"]["p50_ms"] > 0
    flight = data["single_flight"]
    assert flight["ours_done"] == flight["copies"] == 3
    assert flight["ours_sglang_requests"] == 1
    assert flight["replay_cached"] is True
    assert flight["replay_sglang_requests"] == 0
    assert flight["raw_sglang_requests"] == 3
    for side in ("ours", "raw", "raw_then_abort_request"):
        hang_up = data["disconnect"][side]
        assert hang_up["gauge_rose"]
        assert hang_up["gauge_drop_s"] is not None
        assert hang_up["gauge_drop_s"] < 2
    queue = data["queue_full"]
    assert queue["raw_refusal_status"] == 200
    assert QUEUE_FULL in queue["raw_refusal_lines"][0]
    assert queue["attempts"]
    assert all(attempt["queue_seen"] for attempt in queue["attempts"])
    # Whether our question lands in a full queue is a race with the crowd; when it does, the
    # answer must end with a retryable model error.
    for attempt in queue["attempts"]:
        if attempt["ours_error"]:
            assert attempt["ours_error"]["retryable"] is True
            assert attempt["ours_error"]["service"] == "llm"
    assert [row["prompt_tokens"] for row in data["curve"]] == sorted(
        row["prompt_tokens"] for row in data["curve"]
    )
    assert data["decode"]["single_tok_s"] > 0
