"""What the HTTP routes accept as input: questions, strict bodies, encodings and URL lengths."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from searchqa.api.app import create_app
from searchqa.api.limits import MAX_URL_BYTES
from tests.integration.api_support import AppServer, World, local_world

Client = AsyncTestClient[Litestar]
QUESTION = "How do community gardens cool cities?"


@pytest.fixture
def world() -> Iterator[World]:
    with local_world() as world:
        yield world


@pytest.fixture
async def client(world: World) -> AsyncIterator[Client]:
    async with AsyncTestClient(create_app(world.settings)) as client:
        yield client


def assert_problem(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code, response.json()


def assert_openai_error(response: Any, status: int, code: str, param: str | None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert (error["code"], error["param"]) == (code, param), error


def chat(content: str, **fields: Any) -> dict[str, Any]:
    return {"model": "searchqa", "messages": [{"role": "user", "content": content}], **fields}


BLANK_QUESTIONS = ["", "   ", "\x00", "\x00\x01\x1b\x7f", " \x00\t\n "]


@pytest.mark.parametrize("blank", BLANK_QUESTIONS)
async def test_a_blank_question_is_empty_query_on_every_route(
    client: Client, world: World, blank: str
) -> None:
    assert_problem(await client.post("/v1/answer", json={"query": blank}), 400, "empty_query")
    assert_problem(await client.get("/v1/answer", params={"q": blank}), 400, "empty_query")
    upload = await client.post(
        "/v1/files/answer",
        files={"file": ("notes.txt", b"Gardens cool blocks.", "text/plain")},
        data={"question": blank},
    )
    assert_problem(upload, 400, "empty_query")
    completion = await client.post("/v1/chat/completions", json=chat(blank))
    assert_openai_error(completion, 400, "empty_query", None)
    assert world.chat_requests() == 0


@pytest.mark.parametrize("query", ["q=%ff%fe", "q=caf%e9", "q=ok&engines=%c3"])
async def test_query_strings_that_are_not_utf8_are_refused(
    client: Client, world: World, query: str
) -> None:
    response = await client.get(f"/v1/answer?{query}")
    assert_problem(response, 400, "bad_encoding")
    assert world.chat_requests() == 0


async def test_percent_encoded_utf8_questions_are_answered(client: Client) -> None:
    response = await client.get("/v1/answer?q=caf%C3%A9%20gardens%3F&stream=false")
    assert response.status_code == 200, response.text
    assert response.json()["query"] == "café gardens?"


@pytest.mark.parametrize(
    "fields",
    [
        {"max_sources": "5"},
        {"max_sources": True},
        {"max_sources": 2.5},
        {"stream": "yes"},
        {"stream": 0},
        {"no_cache": "true"},
        {"engines": "searxng"},
        {"history": [{"role": "user", "content": 5}]},
    ],
)
async def test_answer_bodies_are_parsed_strictly(
    client: Client, world: World, fields: dict[str, Any]
) -> None:
    response = await client.post("/v1/answer", json={"query": QUESTION, **fields})
    assert_problem(response, 422, "validation_failed")
    assert world.chat_requests() == 0


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": -5}, "max_tokens"),
        ({"max_completion_tokens": 0}, "max_completion_tokens"),
        ({"n": 2}, "n"),
        ({"n": 0}, "n"),
        ({"stream": "yes"}, "stream"),
        ({"temperature": "0.6"}, "temperature"),
        ({"max_tokens": "100"}, "max_tokens"),
        ({"n": 1.5}, "n"),
    ],
)
async def test_chat_requests_out_of_range_or_loosely_typed_are_refused(
    client: Client, world: World, fields: dict[str, Any], param: str
) -> None:
    response = await client.post("/v1/chat/completions", json=chat(QUESTION, **fields))
    assert_openai_error(response, 400, "invalid_request", param)
    assert world.chat_requests() == 0


async def test_an_unknown_model_is_not_found_in_openai_shape(client: Client, world: World) -> None:
    response = await client.post("/v1/chat/completions", json=chat(QUESTION, model="gpt-4o"))
    assert_openai_error(response, 404, "model_not_found", "model")
    assert "gpt-4o" in response.json()["error"]["message"]
    assert world.chat_requests() == 0


async def test_honoured_chat_fields_are_accepted(client: Client) -> None:
    body = chat(QUESTION, n=1.0, max_tokens=3, temperature=1, stream=False, top_k=40)
    response = await client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"]


async def test_urls_over_the_cap_are_414_problems(client: Client, world: World) -> None:
    long_question = "x" * (MAX_URL_BYTES + 1)
    response = await client.get("/v1/answer", params={"q": long_question})
    assert_problem(response, 414, "uri_too_long")
    models = await client.get("/v1/models", params={"pad": long_question})
    assert_openai_error(models, 414, "uri_too_long", None)
    assert world.chat_requests() == 0


async def test_the_longest_question_fits_under_the_cap(client: Client) -> None:
    widest = "\U0001f600" * 2000  # 4 UTF-8 bytes each, 12 once percent-encoded
    response = await client.get("/v1/answer", params={"q": widest, "stream": "false"})
    # Answered or failed upstream (the fake SearXNG refuses such long URLs), never capped.
    assert response.status_code != 414, response.text
    assert response.json().get("code") != "uri_too_long"


def raw_head(url: str, target: str) -> bytes:
    """The status line and headers of the answer to a GET of ``target``, sent as is."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        received = b""
        while b"\r\n\r\n" not in received and (chunk := conn.recv(65536)):
            received += chunk
    return received.partition(b"\r\n\r\n")[0].lower()


def test_uvicorn_passes_long_urls_to_the_app_and_refuses_only_huge_ones(world: World) -> None:
    with AppServer(create_app(world.settings)) as api:
        capped = httpx.get(f"{api.url}/v1/answer", params={"q": "x" * (MAX_URL_BYTES + 10)})
        huge = raw_head(api.url, "/v1/answer?q=" + "x" * 100_000)
    assert_problem(capped, 414, "uri_too_long")
    # Past what the server reads of a request head, uvicorn answers itself (see README).
    assert huge.startswith(b"http/1.1 400 ")
    assert b"content-type: text/plain" in huge
