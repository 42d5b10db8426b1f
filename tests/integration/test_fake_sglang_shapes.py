"""The fake SGLang against what a real one sent: chunk, usage, model card, error and metric
shapes captured from SGLang 0.5.17 on a GPU (``tests/fixtures/sglang/``, written by
``bench/gpu/measure.py``). Values differ (a dummy model wrote the real text); the keys, which
are null, and the order of the lines may not."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.server import serve
from tests.fakes.sglang import FakeSGLang

REAL = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "sglang" / "sglang-0.5.17-h100.json").read_text()
)
_LABELS = re.compile(r"^(sglang:\w+)\{([^}]*)\}")


def shape(value: object) -> object:
    """``value`` with every leaf replaced by its JSON type (null stays None)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return None if value is None else type(value).__name__


def chunks(lines: list[str]) -> list[Any]:
    """The JSON of each ``data:`` line, ``[DONE]`` as a string."""
    payloads = [line.removeprefix("data: ") for line in lines if line != "..."]
    return [payload if payload == "[DONE]" else json.loads(payload) for payload in payloads]


@pytest.fixture(scope="module")
def fake() -> Iterator[tuple[FakeSGLang, str]]:
    # Like the dummy model: thinking that the token limit cuts off.
    llm = FakeSGLang(reasoning="word " * 40, answer="unreached", model="/tmp/model",
                     context_length=32768, max_running_requests=1, max_queued_requests=0,
                     first_token_delay_s=0.0)  # fmt: skip
    with serve(llm.app()) as server:
        yield llm, server.url


def stream(url: str, path: str, body: dict[str, Any]) -> list[str]:
    with httpx.stream("POST", url + path, json=body, timeout=10) as response:
        assert response.status_code == 200
        return [line for line in response.iter_lines() if line.startswith("data:")]


def test_chat_chunks_have_the_real_shapes(fake: tuple[FakeSGLang, str]) -> None:
    body = {"model": "/tmp/model", "messages": [{"role": "user", "content": "Hi"}],
            "max_tokens": 8, "stream": True, "stream_options": {"include_usage": True}}  # fmt: skip
    mine, real = (
        chunks(stream(fake[1], "/v1/chat/completions", body)),
        chunks(REAL["chat_stream_lines"]),
    )

    assert shape(mine[0]) == shape(real[0])  # role chunk
    assert shape(mine[1]) == shape(real[1])  # reasoning chunk: no null role/content/usage keys
    assert shape(mine[-3]) == shape(real[-3])  # finish chunk
    assert mine[-3]["choices"][0]["finish_reason"] == real[-3]["choices"][0]["finish_reason"]
    assert shape(mine[-2]) == shape(real[-2])  # usage, with reasoning_tokens
    assert mine[-2]["usage"]["reasoning_tokens"] == mine[-2]["usage"]["completion_tokens"] == 8
    assert mine[-1] == real[-1] == "[DONE]"


def test_text_completion_chunks_have_the_real_shapes(fake: tuple[FakeSGLang, str]) -> None:
    body = {"model": "/tmp/model", "prompt": "Hello", "max_tokens": 4, "stream": True,
            "stream_options": {"include_usage": True}}  # fmt: skip
    mine = chunks(stream(fake[1], "/v1/completions", body))
    real = chunks(REAL["completion_stream_lines"])

    assert shape(mine[0]) == shape(real[0])
    assert shape(mine[-3]) == shape(real[-3])
    assert shape(mine[-2]) == shape(real[-2])
    assert mine[-1] == "[DONE]"


def test_queue_full_is_refused_with_the_real_lines(fake: tuple[FakeSGLang, str]) -> None:
    llm, url = fake
    body = {"model": "/tmp/model", "messages": [{"role": "user", "content": "Hi"}],
            "max_tokens": 8, "stream": True, "stream_options": {"include_usage": True}}  # fmt: skip
    llm.running = 1  # the one slot is taken and nothing may wait
    try:
        lines = stream(url, "/v1/chat/completions", body)
    finally:
        llm.running = 0
    real = REAL["queue_full_lines"]

    assert lines[0] == real[0]  # byte for byte, json.dumps' spaces included
    assert shape(chunks(lines)[1:]) == shape(chunks(real)[1:])
    assert chunks(lines)[1]["usage"] == chunks(real)[1]["usage"]  # all zeros
    assert REAL["queue_full_status"] == 200


def test_model_card_and_context_error_have_the_real_shapes(fake: tuple[FakeSGLang, str]) -> None:
    url = fake[1]
    card = httpx.get(url + "/v1/models").json()
    too_long = {"model": "/tmp/model", "messages": [{"role": "user", "content": "word " * 40000}],
                "max_tokens": 8, "stream": True}  # fmt: skip
    refused = httpx.post(url + "/v1/chat/completions", json=too_long, timeout=10)

    assert shape(card) == shape(REAL["models"])
    assert refused.status_code == REAL["context_error"]["status"] == 400
    real_error = json.loads(REAL["context_error"]["body"])
    assert shape(refused.json()) == shape(real_error)
    pattern = r"The input \(\d+ tokens\) is longer than the model's context length \(\d+ tokens\)\."
    assert re.fullmatch(pattern, refused.json()["message"])
    assert re.fullmatch(pattern, real_error["message"])


def test_metrics_carry_the_real_labels(fake: tuple[FakeSGLang, str]) -> None:
    def labels(lines: list[str]) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for line in lines:
            if match := _LABELS.match(line):
                keys = {pair.split("=", 1)[0] for pair in match.group(2).split(",")}
                found[match.group(1)] = keys
        return found

    mine = labels(httpx.get(fake[1] + "/metrics").text.splitlines())
    real = labels(REAL["metric_lines"])

    for name in ("sglang:num_running_reqs", "sglang:num_queue_reqs", "sglang:num_requests_total"):
        assert mine[name] == real[name], name
