"""SGLang's 503 refusals before a stream starts: retryable, and told apart from other 503s."""

from __future__ import annotations

import httpx
import pytest

from searchqa.errors import LLMError
from searchqa.llm import OpenAIChatModel
from searchqa.settings import LLMSettings
from tests.fakes.canned import serve_canned

QUEUE_FULL = {
    "object": "error",
    "message": "The request queue is full.",
    "type": "ServiceUnavailable",
    "param": None,
    "code": 503,
}


async def refusal(response: httpx.Response) -> LLMError:
    with serve_canned(response) as base_url:
        model = OpenAIChatModel(LLMSettings(base_url=base_url, model="m"))
        try:
            with pytest.raises(LLMError) as caught:
                async for _ in model.stream("q", max_tokens=10):
                    pass
        finally:
            await model.aclose()
    return caught.value


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(503, json=QUEUE_FULL),
        httpx.Response(503, json={"error": QUEUE_FULL}),
        httpx.Response(200, json={"error": QUEUE_FULL}),  # JSON where a stream was asked for
        httpx.Response(
            503,
            json=QUEUE_FULL | {"message": "The request is aborted by a higher priority request."},
        ),
    ],
    ids=["flat", "nested", "json-200", "preempted"],
)
async def test_a_full_queue_before_the_stream_is_a_retryable_overload(
    response: httpx.Response,
) -> None:
    error = await refusal(response)
    assert (error.code, error.retryable, error.http_status) == ("llm_overloaded", True, 503)
    assert "try again shortly" in error.message


async def test_other_503s_stay_retryable_server_errors() -> None:
    error = await refusal(httpx.Response(503, text="no healthy upstream"))
    assert (error.code, error.retryable, error.http_status) == ("llm_server_error", True, 502)
    assert "no healthy upstream" in error.message
