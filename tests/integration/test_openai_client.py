"""OpenAIChatModel against a real local server that speaks SGLang's streaming format."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import aclosing, contextmanager
from typing import Any, Literal

import pytest
from aiohttp import web
from pydantic import SecretStr

from searchqa.errors import LLMError
from searchqa.events import Usage
from searchqa.llm import OpenAIChatModel
from searchqa.llm.r1_format import render_r1_prompt
from searchqa.protocols import ChatModel, ModelDelta
from searchqa.settings import LLMSettings
from tests.fakes.server import serve
from tests.fakes.sglang import FakeSGLang
from tests.fakes.web import PROXY_LOG, fake_proxy_app

REASONING = "The sources agree: Paris.\n"
ANSWER = "\n\nThe capital of France is Paris [citation:1][citation:12]."
QUESTION = "What is the capital of France?"
ODD_CUTS = (1, 3, 2, 5, 4, 7)  # cuts </think> and [citation:12] mid-way

ModelFactory = Callable[..., OpenAIChatModel]


@pytest.fixture
async def make_model() -> AsyncIterator[ModelFactory]:
    models: list[OpenAIChatModel] = []

    def make(base_url: str, **settings: Any) -> OpenAIChatModel:
        model = OpenAIChatModel(LLMSettings(base_url=base_url, **settings))
        models.append(model)
        chat_model: ChatModel = model  # the protocol is met, as mypy checks here
        del chat_model
        return model

    yield make
    for model in models:
        await model.aclose()


@contextmanager
def running(fake: FakeSGLang) -> Iterator[str]:
    with serve(fake.app()) as server:
        yield server.url + "/v1"


async def collect(
    model: OpenAIChatModel, max_tokens: int = 1000, prompt: str = QUESTION
) -> list[ModelDelta]:
    return [delta async for delta in model.stream(prompt, max_tokens=max_tokens)]


def texts(deltas: list[ModelDelta]) -> tuple[str, str]:
    return "".join(d.reasoning for d in deltas), "".join(d.content for d in deltas)


async def expect_error(model: OpenAIChatModel, **stream: Any) -> LLMError:
    with pytest.raises(LLMError) as caught:
        await collect(model, **stream)
    return caught.value


@pytest.mark.parametrize("reasoning_parser", [True, False], ids=["parser-on", "parser-off"])
@pytest.mark.parametrize("chunk_chars", [(), ODD_CUTS], ids=["per-token", "odd-cuts"])
async def test_reasoning_and_answer_arrive_apart(
    make_model: ModelFactory, reasoning_parser: bool, chunk_chars: tuple[int, ...]
) -> None:
    fake = FakeSGLang(
        reasoning=REASONING,
        answer=ANSWER,
        reasoning_parser=reasoning_parser,
        chunk_chars=chunk_chars,
        token_delay_s=0.002,  # chunks that arrive in the same read are handed on as one
    )
    with running(fake) as url:
        deltas = await collect(make_model(url))
    assert texts(deltas) == (REASONING, ANSWER.lstrip())
    kinds = "".join("r" if d.reasoning else "a" if d.content else "u" for d in deltas)
    assert re.fullmatch(r"r{2,}a{2,}u", kinds), "reasoning streams first, then the answer"


async def test_chunks_read_together_are_one_delta_each_kind(make_model: ModelFactory) -> None:
    fake = FakeSGLang(reasoning=REASONING, answer=ANSWER)  # no pause: one read holds it all
    with running(fake) as url:
        deltas = await collect(make_model(url))
    assert texts(deltas) == (REASONING, ANSWER.lstrip())
    assert len(deltas) < len(REASONING.split()) + len(ANSWER.split())
    kinds = "".join("r" if d.reasoning else "a" if d.content else "u" for d in deltas)
    assert re.fullmatch(r"r+a+u", kinds)


@pytest.mark.parametrize("reasoning_parser", [True, False], ids=["parser-on", "parser-off"])
async def test_a_reply_that_never_closes_its_thinking_is_all_reasoning(
    make_model: ModelFactory, reasoning_parser: bool
) -> None:
    fake = FakeSGLang(
        reasoning="Still thinking", answer=" and more", close_think=False,
        reasoning_parser=reasoning_parser,
    )  # fmt: skip
    with running(fake) as url:
        deltas = await collect(make_model(url))
    assert texts(deltas) == ("Still thinking and more", "")


async def test_raw_prompt_streams_r1_format_from_completions(make_model: ModelFactory) -> None:
    fake = FakeSGLang(reasoning=REASONING, answer=ANSWER, chunk_chars=ODD_CUTS)
    with running(fake) as url:
        deltas = await collect(make_model(url, raw_prompt=True), max_tokens=500)
    assert texts(deltas) == (REASONING, ANSWER.lstrip())
    [request] = [r for r in fake.requests if r.path != "/v1/models"]
    assert request.path == "/v1/completions"
    assert request.body["prompt"] == render_r1_prompt(QUESTION)
    assert request.body["stream_options"] == {"include_usage": True}
    assert request.body["max_tokens"] == 500
    assert (request.body["temperature"], request.body["top_p"]) == (0.6, 0.95)
    assert deltas[-1].usage is not None
    assert deltas[-1].usage.completion_tokens > 0


@pytest.mark.parametrize("omit_nulls", [False, True], ids=["null-fields", "omitted-fields"])
async def test_usage_comes_last_from_the_usage_chunk(
    make_model: ModelFactory, omit_nulls: bool
) -> None:
    fake = FakeSGLang(reasoning="Hmm.", answer="Paris.", omit_nulls=omit_nulls)
    with running(fake) as url:
        deltas = await collect(make_model(url))
    # The fake counts 7 words + 4 template tokens in, "Hmm" "." "</think>" "Paris" "." out.
    assert deltas[-1] == ModelDelta(
        usage=Usage(prompt_tokens=11, completion_tokens=5, total_tokens=16)
    )
    assert [d for d in deltas if d.usage is not None] == deltas[-1:]


async def test_the_reply_stops_at_max_tokens(make_model: ModelFactory) -> None:
    fake = FakeSGLang(reasoning="one two three four", answer="five")
    with running(fake) as url:
        deltas = await collect(make_model(url), max_tokens=2)
    assert texts(deltas) == ("one two", "")
    assert deltas[-1].usage is not None
    assert deltas[-1].usage.completion_tokens == 2


async def test_request_follows_deepseek_rules(make_model: ModelFactory) -> None:
    fake = FakeSGLang(model="deepseek-r1-distill", api_key="sk-local")
    with running(fake) as url:
        await collect(make_model(url, api_key=SecretStr("sk-local")), max_tokens=777)
    models_call, chat_call = fake.requests
    assert models_call.path == "/v1/models"
    assert chat_call.path == "/v1/chat/completions"
    assert chat_call.authorization == "Bearer sk-local"
    assert chat_call.body == {
        "model": "deepseek-r1-distill",
        "messages": [{"role": "user", "content": QUESTION}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": 777,
        "temperature": 0.6,
        "top_p": 0.95,
    }


async def test_configured_model_id_is_used_without_asking_the_server(
    make_model: ModelFactory,
) -> None:
    fake = FakeSGLang()
    with running(fake) as url:
        await collect(make_model(url, model="my-r1"))
    assert [(r.path, r.body.get("model")) for r in fake.requests] == [
        ("/v1/chat/completions", "my-r1")
    ]


@pytest.mark.parametrize("shape", ["nested", "flat"])
async def test_error_mid_stream_raises_after_the_text_so_far(
    make_model: ModelFactory, shape: Literal["nested", "flat"]
) -> None:
    fake = FakeSGLang(
        reasoning="one two three four", error_after_chunks=2, error_shape=shape,
        error_message="Generation aborted: out of memory.", error_status=503,
    )  # fmt: skip
    seen: list[ModelDelta] = []

    async def consume(model: OpenAIChatModel) -> None:
        async for delta in model.stream(QUESTION, max_tokens=100):
            seen.append(delta)

    with running(fake) as url, pytest.raises(LLMError) as caught:
        await consume(make_model(url))
    assert texts(seen) == ("one two", "")
    assert (caught.value.code, caught.value.retryable) == ("llm_stream_error", True)
    assert "out of memory" in caught.value.message


@pytest.mark.parametrize(
    ("max_tokens", "server_says"),
    [
        (10, "is longer than the model's context length (40 tokens)"),
        (5000, "Requested token count exceeds the model's maximum context length of 40"),
    ],
    ids=["prompt", "prompt-plus-output"],
)
async def test_too_long_prompt_is_context_length_exceeded(
    make_model: ModelFactory, max_tokens: int, server_says: str
) -> None:
    fake = FakeSGLang(context_length=40)
    long_question = "word " * (50 if max_tokens == 10 else 20)
    with running(fake) as url:
        error = await expect_error(make_model(url), max_tokens=max_tokens, prompt=long_question)
    assert (error.code, error.retryable) == ("context_length_exceeded", False)
    assert server_says in error.message


async def test_wrong_api_key_is_an_auth_error(make_model: ModelFactory) -> None:
    fake = FakeSGLang(api_key="right")
    with running(fake) as url:
        model = make_model(url, api_key=SecretStr("wrong"), model="m")
        error = await expect_error(model)
        with pytest.raises(LLMError) as describe_error:
            await make_model(url, api_key=SecretStr("wrong")).describe()
    assert (error.code, error.retryable) == ("llm_auth", False)
    assert "401" in error.message
    assert describe_error.value.code == "llm_auth"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_refused_connection_is_unreachable(make_model: ModelFactory) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    error = await expect_error(make_model(url, model="m"))
    assert (error.code, error.retryable) == ("llm_unreachable", True)
    assert url in error.message
    with pytest.raises(LLMError, match="cannot connect") as describe_error:
        await make_model(url).describe()
    assert describe_error.value.code == "llm_unreachable"


@contextmanager
def unanswered_port() -> Iterator[int]:
    """A port whose accept queue is full, so new connections hang in the handshake."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = [socket.socket() for _ in range(4)]
    for filler in fillers:
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
    try:
        with socket.socket() as probe:
            probe.settimeout(0.2)
            try:
                probe.connect(("127.0.0.1", port))
            except TimeoutError:
                pass
            else:
                pytest.skip("this kernel accepts connections beyond the backlog")
        yield port
    finally:
        for sock in [*fillers, listener]:
            sock.close()


async def test_connect_timeout(make_model: ModelFactory) -> None:
    with unanswered_port() as port:
        model = make_model(f"http://127.0.0.1:{port}/v1", model="m", connect_timeout_s=0.2)
        error = await expect_error(model)
    assert error.code == "llm_connect_timeout"
    assert "0.2 s" in error.message


async def test_silence_between_chunks_is_a_read_timeout(make_model: ModelFactory) -> None:
    fake = FakeSGLang(token_delay_s=2.0)
    with running(fake) as url:
        error = await expect_error(make_model(url, model="m", read_timeout_s=0.2))
    assert (error.code, error.retryable) == ("llm_read_timeout", True)
    assert "0.2 s" in error.message


async def test_closing_the_stream_closes_the_upstream_request(make_model: ModelFactory) -> None:
    fake = FakeSGLang(reasoning="word " * 200, token_delay_s=0.01)
    with running(fake) as url:
        async with aclosing(make_model(url, model="m").stream(QUESTION, max_tokens=1000)) as s:
            async for _ in s:
                break
        async with asyncio.timeout(5):
            await fake.wait_for_disconnect()
    assert (fake.disconnects, fake.completed) == (1, 0)


async def test_cancelling_the_consumer_closes_the_upstream_request(
    make_model: ModelFactory,
) -> None:
    fake = FakeSGLang(reasoning="word " * 200, token_delay_s=0.01)
    first = asyncio.Event()

    async def consume(model: OpenAIChatModel) -> None:
        async for _ in model.stream(QUESTION, max_tokens=1000):
            first.set()

    with running(fake) as url:
        task = asyncio.create_task(consume(make_model(url, model="m")))
        await asyncio.wait_for(first.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        async with asyncio.timeout(5):
            await fake.wait_for_disconnect()
    assert fake.completed == 0


@pytest.mark.parametrize(
    ("report", "configured", "expected"),
    [(True, 4096, 1000), (False, 4096, 4096), (False, None, None)],
    ids=["server-reports", "settings-fallback", "unknown"],
)
async def test_describe_reports_model_and_context_window(
    make_model: ModelFactory, report: bool, configured: int | None, expected: int | None
) -> None:
    fake = FakeSGLang(model="served-r1", context_length=1000, report_max_model_len=report)
    with running(fake) as url:
        model = make_model(url, context_length=configured)
        info = await model.describe()
        assert await model.describe() is info
    assert (info.id, info.context_length) == ("served-r1", expected)
    assert len(fake.requests) == 1, "describe() is cached"


def models_app(status: int, body: str) -> web.Application:
    async def models(request: web.Request) -> web.Response:
        return web.Response(status=status, text=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/v1/models", models)
    return app


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("<html>not json</html>", "llm_bad_response"),
        ('{"object": "list"}', "llm_bad_response"),
        ('{"object": "list", "data": []}', "llm_no_models"),
    ],
)
async def test_describe_fails_clearly(make_model: ModelFactory, body: str, code: str) -> None:
    with serve(models_app(200, body)) as server, pytest.raises(LLMError) as caught:
        await make_model(server.url + "/v1").describe()
    assert caught.value.code == code


async def test_connection_dropped_mid_reply(make_model: ModelFactory) -> None:
    async def chat(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b'data: {"choices": [{"index": 0, "delta": {"content": "a"}}]}\n\n')
        assert request.transport is not None
        request.transport.close()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    with serve(app) as server:
        error = await expect_error(make_model(server.url + "/v1", model="m"))
    assert (error.code, error.retryable) == ("llm_connection_lost", True)


@pytest.fixture
def no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


async def test_the_model_server_is_reached_through_the_environment_proxy(
    make_model: ModelFactory, no_proxy_settings: pytest.MonkeyPatch
) -> None:
    fake = FakeSGLang(model="served-r1")
    with (
        running(fake) as url,
        serve(fake_proxy_app({"sglang.internal": url[: -len("/v1")]})) as proxy,
    ):
        no_proxy_settings.setenv("HTTP_PROXY", proxy.url)
        # The name resolves nowhere: only the proxy can reach it.
        info = await make_model("http://sglang.internal/v1").describe()
    assert info.id == "served-r1"
    assert proxy._app[PROXY_LOG] == ["http://sglang.internal/v1/models"]


async def test_no_proxy_reaches_the_model_server_directly(
    make_model: ModelFactory, no_proxy_settings: pytest.MonkeyPatch
) -> None:
    fake = FakeSGLang(model="served-r1")
    with running(fake) as url, serve(fake_proxy_app({})) as proxy:
        no_proxy_settings.setenv("HTTP_PROXY", proxy.url)
        no_proxy_settings.setenv("NO_PROXY", "127.0.0.1")
        info = await make_model(url).describe()
    assert info.id == "served-r1"
    assert proxy._app[PROXY_LOG] == []
