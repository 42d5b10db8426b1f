"""Protocol edge cases of OpenAIChatModel that no well-behaved server stages: canned replies
from a real local server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from searchqa.errors import LLMError
from searchqa.llm import OpenAIChatModel
from searchqa.protocols import ModelDelta
from searchqa.settings import LLMSettings
from tests.fakes.canned import serve_canned

SSE = {"content-type": "text/event-stream"}


def chunk(content: str = "", *, reasoning: str = "", finish: str | None = None) -> str:
    delta = {"content": content} | ({"reasoning": reasoning} if reasoning else {})
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return httpx.Response(200, json={"choices": [choice]}).text


async def run(response: httpx.Response) -> list[ModelDelta]:
    with serve_canned(response) as base_url:
        model = OpenAIChatModel(LLMSettings(base_url=base_url, model="m"))
        try:
            return [delta async for delta in model.stream("q", max_tokens=10)]
        finally:
            await model.aclose()


async def fails(response: httpx.Response) -> LLMError:
    with pytest.raises(LLMError) as caught:
        await run(response)
    return caught.value


def answer(deltas: list[ModelDelta]) -> str:
    return "".join(delta.content for delta in deltas)


async def test_malformed_json_is_a_bad_stream() -> None:
    body = f"data: {chunk('a')}\n\ndata: {{not json\n\ndata: [DONE]\n\n"
    error = await fails(httpx.Response(200, headers=SSE, text=body))
    assert error.code == "llm_bad_stream"
    assert "{not json" in error.message


async def test_stream_that_stops_without_done_or_finish_is_incomplete() -> None:
    body = f"data: {chunk('</think>half an ans')}\n\n"
    error = await fails(httpx.Response(200, headers=SSE, text=body))
    assert (error.code, error.retryable) == ("llm_stream_incomplete", True)


async def test_finished_reply_without_done_is_accepted() -> None:
    body = f"data: {chunk('</think>Paris')}\n\ndata: {chunk(finish='stop')}\n\n"
    assert answer(await run(httpx.Response(200, headers=SSE, text=body))) == "Paris"


async def test_events_without_blank_lines_between_them_still_parse() -> None:
    body = f"data: {chunk('</think>Par')}\ndata: {chunk('is')}\ndata: [DONE]\n"
    assert answer(await run(httpx.Response(200, headers=SSE, text=body))) == "Paris"


async def test_crlf_comments_and_unicode_separators_in_text() -> None:
    text = "Pa\u2028ris\x85 北京"

    async def pieces() -> AsyncIterator[bytes]:
        raw = f": ping\r\n\r\ndata: {chunk('</think>' + text)}\r\n\r\ndata: [DONE]\r\n\r\n"
        encoded = raw.encode()
        for start in range(0, len(encoded), 3):
            yield encoded[start : start + 3]

    deltas = await run(httpx.Response(200, headers=SSE, content=pieces()))
    assert answer(deltas) == text


async def test_reasoning_field_of_other_servers_is_reasoning() -> None:
    body = f"data: {chunk(reasoning='thinking')}\n\ndata: {chunk('Paris')}\n\ndata: [DONE]\n\n"
    deltas = await run(httpx.Response(200, headers=SSE, text=body))
    assert [(d.reasoning, d.content) for d in deltas] == [("thinking", ""), ("", "Paris")]


async def test_json_instead_of_a_stream() -> None:
    error = await fails(httpx.Response(200, json={"choices": []}))
    assert error.code == "llm_bad_stream"
    error = await fails(httpx.Response(200, json={"error": {"message": "boom", "code": 500}}))
    assert (error.code, error.message) == (
        "llm_server_error",
        "the model server answered HTTP 500: boom",
    )


@pytest.mark.parametrize(
    ("status", "body", "code", "retryable"),
    [
        (500, {"object": "error", "message": "CUDA error", "code": 500}, "llm_server_error", True),
        (404, {"detail": "Not Found"}, "llm_not_found", False),
        (429, {"error": {"message": "slow down"}}, "llm_rate_limited", True),
        (400, {"object": "error", "message": "bad top_p", "code": 400}, "llm_bad_request", False),
        (403, {"error": "Forbidden"}, "llm_auth", False),
        (
            400,
            {"error": {"message": "too big", "code": "context_length_exceeded"}},
            "context_length_exceeded",
            False,
        ),
        (413, {"error": {"message": "payload too large"}}, "context_length_exceeded", False),
    ],
)
async def test_http_errors_have_distinct_codes(
    status: int, body: object, code: str, retryable: bool
) -> None:
    error = await fails(httpx.Response(status, json=body))
    assert (error.code, error.retryable) == (code, retryable)
    assert f"{status}" in error.message or code == "context_length_exceeded"


async def test_plain_text_error_body_is_quoted() -> None:
    error = await fails(httpx.Response(502, text="Bad Gateway from the proxy"))
    assert error.code == "llm_server_error"
    assert "Bad Gateway from the proxy" in error.message
