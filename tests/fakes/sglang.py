"""A fake SGLang server that streams scripted DeepSeek-R1 replies in SGLang's exact wire format.

Routes: ``GET /v1/models``, ``POST /v1/chat/completions`` and ``POST /v1/completions``
(streaming only), ``GET /health``, ``GET /ready``. Chat chunks are ``chat.completion.chunk``
objects with ``id``, ``created``, ``model`` and ``choices[{index, delta, logprobs,
finish_reason, matched_stop}]`` as SGLang 0.5.17 sent them on a GPU: the delta always has
``reasoning_content`` (null when the chunk carries none) and ``role``/``content`` only when set;
no ``usage`` key until the usage-only chunk with ``choices: []`` (which counts
``reasoning_tokens`` too), then ``data: [DONE]``. Text completions stream ``text_completion``
chunks the same way, with ``usage: null`` in each. The model's raw output is
``reasoning + "</think>" + answer`` (the chat template already wrote the opening ``<think>``).

Knobs (fields of ``FakeSGLang``; change them between requests if you like):

- ``reasoning``, ``answer``: the scripted reply; ``[citation:X]`` markers pass through as text.
  ``responder(prompt) -> (reasoning, answer)`` overrides both per request.
- ``close_think``: False leaves ``</think>`` out, so the whole reply is reasoning.
- ``reasoning_parser``: True (``--reasoning-parser deepseek-r1``) sends reasoning in
  ``delta.reasoning_content``; False sends the raw text, ``</think>`` included, in ``content``.
- ``model``, ``context_length`` (the server's limit, enforced with SGLang's own 400 messages),
  ``report_max_model_len`` (False: /v1/models lists no ``max_model_len``).
- ``tokens_per_chunk``: tokens per streamed chunk; ``chunk_chars``: cycle through these
  character counts instead, to cut ``</think>`` and ``[citation:X]`` at odd places.
- ``token_delay_s``: pause per token (0.05 = 20 tokens/s); ``first_token_delay_s``: prefill
  pause before the response starts, as SGLang sends headers only with the first chunk.
- ``error_after_chunks``: after that many text chunks send SGLang's mid-stream error
  ``{"error": {...}}`` (``error_shape="flat"``: ``{"object": "error", ...}``; written with
  ``json.dumps``' spaces, unlike the other chunks), then the usage chunk when usage was asked
  for, then ``[DONE]``; ``error_message``, ``error_status`` shape it.
- ``stall_after_chunks``: after that many text chunks send no more tokens, only keep-alives
  every ``stall_interval_s`` until the client leaves: ``stall="ping"`` sends ``: ping``
  comments, ``stall="empty_delta"`` chunks whose delta is empty.
- ``omit_nulls``: the newer SGLang encoder that leaves out null fields.
- ``api_key``: require ``Authorization: Bearer <key>``, else 401 (not on ``/health``,
  ``/ready`` and ``/metrics``, which SGLang leaves open for probes).
- ``ready``: what ``GET /ready`` says, 200 or SGLang's bare 503 (starting, paused, unhealthy);
  ``ready_route=False`` removes the route (404), like servers that have none.
- ``max_running_requests``: streams generated at once; later ones wait in the queue.
  ``max_queued_requests`` (``--max-queued-requests``): a request that finds the queue full gets
  SGLang's queue-full error as its first chunk (HTTP 200, no role chunk), then the usage chunk
  (all zeros) when usage was asked for, then ``[DONE]``.

A request's ``max_tokens`` cuts the reply after that many tokens (``finish_reason: "length"``).

``POST /v1/completions`` with ``stream: false`` answers one ``text_completion`` object, as
SGLang does; searchqa asks that way for short replies without the long thinking (the prompt
closes an empty ``<think>`` block, so the output is the reply alone). Its ``stop`` strings cut
the reply (``matched_stop`` names the one met). Knobs: ``brief_responder(prompt) -> text``
(default: the last ``User:`` line of the prompt, a model that repeats the follow-up),
``brief_delay_s`` (answer late), ``brief_status`` (answer that HTTP error instead).
Usage in a test::

    fake = FakeSGLang(answer="Paris [citation:1].", reasoning_parser=False)
    with serve(fake.app()) as server:  # tests.fakes.server.serve
        settings = LLMSettings(base_url=server.url + "/v1")

Records: ``requests`` (path, JSON body or ``{}``, Authorization header of each request),
``disconnects`` (streams the client closed before the end), ``completed`` (streams sent to
``[DONE]``), ``running`` and ``queued`` (streams now), ``ready_checks`` (calls of ``/ready``);
``await wait_for_disconnect()`` waits for the first disconnect (wrap it in ``asyncio.timeout``).
``GET /metrics`` reports them with SGLang's names (``--enable-metrics``):
``sglang:num_running_reqs``, ``sglang:num_queue_reqs``, ``sglang:num_requests_total`` (streams
finished), ``sglang:num_aborted_requests_total`` (queue-full refusals: SGLang 0.5.17 counted
neither client disconnects nor ``/abort_request`` there). ``POST /flush_cache`` answers as
SGLang does.

Standalone: ``python -m tests.fakes.sglang --port 30000 [--tokens-per-second 20] ...``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

from aiohttp import web

DEFAULT_REASONING = (
    "Okay, the user asks for the capital of France. Source 1 says it is Paris, "
    "and source 2 agrees.\n"
)
DEFAULT_ANSWER = "\n\nThe capital of France is Paris [citation:1][citation:2]."
THINK_CLOSE = "</think>"
EOS_TOKEN_ID = 1
_TOKEN = re.compile(
    r"</think>|\s*[\u3000-\u9fff\uff00-\uffef]|\s*[^\W\u3000-\u9fff\uff00-\uffef]+|\s*[^\w\s]|\s+"
)


def tokenize(text: str) -> list[str]:
    """A stand-in tokenizer: words with their leading space, CJK characters, punctuation."""
    return _TOKEN.findall(text)


@dataclass
class RecordedRequest:
    path: str
    body: dict[str, Any]
    authorization: str | None


@dataclass
class FakeSGLang:
    """Configuration and records of one fake server; ``app()`` builds the aiohttp app."""

    reasoning: str = DEFAULT_REASONING
    answer: str = DEFAULT_ANSWER
    responder: Callable[[str], tuple[str, str]] | None = None
    close_think: bool = True
    reasoning_parser: bool = True
    model: str = "deepseek-ai/DeepSeek-R1"
    context_length: int = 163840
    report_max_model_len: bool = True
    tokens_per_chunk: int = 1
    chunk_chars: Sequence[int] = ()
    token_delay_s: float = 0.0
    first_token_delay_s: float = 0.0
    error_after_chunks: int | None = None
    error_message: str = "The server is overloaded; the request was aborted."
    error_status: int = 503
    error_shape: Literal["nested", "flat"] = "nested"
    stall_after_chunks: int | None = None
    stall: Literal["ping", "empty_delta"] = "ping"
    stall_interval_s: float = 0.2
    omit_nulls: bool = False
    api_key: str | None = None
    ready: bool = True
    ready_route: bool = True
    max_running_requests: int | None = None
    max_queued_requests: int | None = None
    brief_responder: Callable[[str], str] | None = None
    brief_delay_s: float = 0.0
    brief_status: int = 200
    requests: list[RecordedRequest] = field(default_factory=list)
    disconnects: int = 0
    completed: int = 0
    refused: int = 0
    ready_checks: int = 0
    running: int = 0
    queued: int = 0

    def app(self) -> web.Application:
        return create_sglang_app(self)

    async def wait_for_disconnect(self) -> None:
        """Wait until the server has seen a client close a stream early (bound it yourself)."""
        # The server runs on another thread and event loop, so poll rather than share an Event.
        while self.disconnects == 0:  # noqa: ASYNC110 (the server counts on another thread)
            await asyncio.sleep(0.01)

    def raw_output(self, prompt: str) -> tuple[str, int, int]:
        """The model's raw output for ``prompt``, where its reasoning ends and its answer starts."""
        reasoning, answer = (
            self.responder(prompt) if self.responder else (self.reasoning, self.answer)
        )
        if not self.close_think:
            text = reasoning + answer
            return text, len(text), len(text)
        return reasoning + THINK_CLOSE + answer, len(reasoning), len(reasoning + THINK_CLOSE)

    def brief_reply(self, prompt: str) -> str:
        """The whole output for a prompt whose thinking is already closed."""
        if self.brief_responder is not None:
            return self.brief_responder(prompt)
        users = [line for line in prompt.splitlines() if line.startswith("User:")]
        return users[-1].removeprefix("User:").strip() if users else ""


def _error_body(message: str, status: int) -> dict[str, Any]:
    return {
        "object": "error",
        "message": message,
        "type": HTTPStatus(status).name if status != 400 else "BadRequestError",
        "param": None,
        "code": status,
    }


QUEUE_FULL = "The request queue is full."
FLUSHED = (
    "Cache flushed.\nPlease check backend logs for more details. "
    "(When there are running or waiting requests, the operation will not be performed.)\n"
)


def metrics_text(fake: FakeSGLang) -> str:
    """The fake's state in SGLang's Prometheus names and label style."""
    model = f'model_name="{fake.model}"'
    ranks = f'engine_type="unified",{model},moe_ep_rank="0",pp_rank="0",tp_rank="0"'
    requests = f'engine_type="unified",is_streaming="true",{model}'
    samples = [
        ("sglang:num_running_reqs", "gauge", ranks, fake.running),
        ("sglang:num_queue_reqs", "gauge", ranks, fake.queued),
        ("sglang:num_requests_total", "counter", requests, fake.completed),
        ("sglang:num_aborted_requests_total", "counter", f"{model}", fake.refused),
    ]
    lines = []
    for name, kind, label_text, value in samples:
        lines += [f"# TYPE {name} {kind}", f"{name}{{{label_text}}} {float(value)}"]
    return "\n".join(lines) + "\n"


async def _take_slot(fake: FakeSGLang) -> bool:
    """Wait for a generation slot like SGLang's scheduler; False when the queue is full."""
    limit = fake.max_running_requests
    if limit is None or fake.running < limit:
        fake.running += 1
        return True
    if fake.max_queued_requests is not None and fake.queued + 1 > fake.max_queued_requests:
        fake.refused += 1
        return False
    fake.queued += 1
    try:
        while fake.running >= limit:  # noqa: ASYNC110 - the scheduler polls too
            await asyncio.sleep(0.002)
    finally:
        fake.queued -= 1
    fake.running += 1
    return True


def _chunks(text: str, tokens: list[str], fake: FakeSGLang) -> list[tuple[int, int, int]]:
    """``(start, end, token count)`` of each streamed piece of ``text``."""
    pieces: list[tuple[int, int, int]] = []
    position = 0
    if fake.chunk_chars:
        for size in itertools.cycle(fake.chunk_chars):
            if position >= len(text):
                break
            end = min(len(text), position + max(1, size))
            pieces.append((position, end, 1))
            position = end
        return pieces
    step = max(1, fake.tokens_per_chunk)
    for first in range(0, len(tokens), step):
        group = tokens[first : first + step]
        end = position + sum(len(token) for token in group)
        pieces.append((position, end, len(group)))
        position = end
    return pieces


class _Stream:
    """One streamed reply in SGLang's chunk format."""

    def __init__(self, fake: FakeSGLang, *, chat: bool, model: str) -> None:
        self.fake = fake
        self.chat = chat
        self.model = model
        self.id = uuid.uuid4().hex
        self.created = int(time.time())

    def chunk(self, choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> bytes:
        obj: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk" if self.chat else "text_completion",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }
        if usage is not None or not self.chat:  # chat chunks leave out a null usage
            obj["usage"] = usage
        if self.fake.omit_nulls or (usage is not None and not self.chat):
            obj = _without_nulls(obj)  # text completions send their usage with exclude_none
        return _sse(obj)

    def choice(self, finish_reason: str | None = None, **delta: str | None) -> dict[str, Any]:
        if self.chat:
            # reasoning_content always, null or not; role and content only when set
            fields: dict[str, Any] = {"reasoning_content": delta.get("reasoning_content")}
            fields |= {key: delta[key] for key in ("role", "content") if delta.get(key) is not None}
            if self.fake.omit_nulls:
                fields = {key: value for key, value in fields.items() if value is not None}
            head: dict[str, Any] = {"index": 0, "delta": fields}
        else:
            head = {"index": 0, "text": delta.get("content") or ""}
        matched = EOS_TOKEN_ID if finish_reason == "stop" else None
        return head | {"logprobs": None, "finish_reason": finish_reason, "matched_stop": matched}


def _without_nulls(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        key: _without_nulls(value) if isinstance(value, dict) else value
        for key, value in obj.items()
        if value is not None
    }


def _dumps(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _sse(obj: object) -> bytes:
    return b"data: " + _dumps(obj).encode() + b"\n\n"


def _spaced_sse(obj: object) -> bytes:
    """An error chunk: SGLang writes those with ``json.dumps``' default separators."""
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def _usage(prompt: int, completion: int, reasoning: int, *, chat: bool) -> dict[str, Any]:
    """SGLang's usage object; text completions leave out the null ``prompt_tokens_details``."""
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "total_tokens": prompt + completion,
        "completion_tokens": completion,
        "prompt_tokens_details": None,
        "reasoning_tokens": reasoning,
    }
    if not chat:
        del usage["prompt_tokens_details"]
    return usage


def _json(obj: object, status: int = 200) -> web.Response:
    return web.json_response(obj, status=status, dumps=_dumps)


def _prompt_of(body: dict[str, Any], chat: bool) -> str | None:
    if not chat:
        prompt = body.get("prompt")
        return prompt if isinstance(prompt, str) else None
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return None
    return "".join(str(m.get("content") or "") for m in messages if isinstance(m, dict))


def _context_error(fake: FakeSGLang, prompt_tokens: int, max_tokens: int | None) -> str | None:
    """SGLang's own refusals, word for word."""
    limit = fake.context_length
    if prompt_tokens >= limit:
        return (
            f"The input ({prompt_tokens} tokens) is longer than the model's context length "
            f"({limit} tokens)."
        )
    if max_tokens is not None and prompt_tokens + max_tokens >= limit:
        return (
            f"Requested token count exceeds the model's maximum context length of {limit} "
            f"tokens. You requested a total of {prompt_tokens + max_tokens} tokens: "
            f"{prompt_tokens} tokens from the input messages and {max_tokens} tokens for the "
            f"completion. Please reduce the number of tokens in the input messages or the "
            f"completion to fit within the limit."
        )
    return None


def create_sglang_app(fake: FakeSGLang) -> web.Application:
    """The aiohttp application for ``fake``."""

    def authorized(request: web.Request) -> bool:
        return fake.api_key is None or request.headers.get("Authorization") == (
            f"Bearer {fake.api_key}"
        )

    def unauthorized() -> web.Response:
        return _json({"error": "Unauthorized"}, status=401)

    async def models(request: web.Request) -> web.Response:
        fake.requests.append(
            RecordedRequest(request.path, {}, request.headers.get("Authorization"))
        )
        if not authorized(request):
            return unauthorized()
        card: dict[str, Any] = {
            "id": fake.model,
            "object": "model",
            "created": int(time.time()),
            "owned_by": "sglang",
            "root": fake.model,
            "parent": None,
        }
        if fake.report_max_model_len:
            card["max_model_len"] = fake.context_length
        return _json({"object": "list", "data": [card]})

    async def health(request: web.Request) -> web.Response:
        return web.Response()

    async def ready(request: web.Request) -> web.Response:
        fake.ready_checks += 1
        if not fake.ready_route:
            raise web.HTTPNotFound()
        return web.Response(status=200 if fake.ready else 503)

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text=metrics_text(fake), content_type="text/plain")

    async def flush_cache(request: web.Request) -> web.Response:
        return web.Response(text=FLUSHED)

    async def chat_completions(request: web.Request) -> web.StreamResponse:
        return await _complete(request, chat=True)

    async def completions(request: web.Request) -> web.StreamResponse:
        return await _complete(request, chat=False)

    async def _complete(request: web.Request, *, chat: bool) -> web.StreamResponse:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            return _json(_error_body("Invalid JSON body.", 400), status=400)
        fake.requests.append(
            RecordedRequest(request.path, body, request.headers.get("Authorization"))
        )
        if not authorized(request):
            return unauthorized()
        prompt = _prompt_of(body, chat)
        if not body.get("stream") and not chat and isinstance(prompt, str):
            return await _complete_whole(body, prompt)
        if not body.get("stream"):
            return _json(_error_body("This fake only streams chats: send stream=true.", 400), 400)
        if prompt is None:
            message = "Messages cannot be empty." if chat else "A string prompt is required."
            return _json(_error_body(message, 400), status=400)
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        if not chat and max_tokens is None:
            max_tokens = 16  # SGLang's CompletionRequest default
        prompt_tokens = len(tokenize(prompt)) + (4 if chat else 0)
        refusal = _context_error(fake, prompt_tokens, max_tokens)
        if refusal:
            return _json(_error_body(refusal, 400), status=400)
        text, reasoning_end, answer_start = fake.raw_output(prompt)
        tokens = tokenize(text)
        finish = "stop"
        if max_tokens is not None and len(tokens) > max_tokens:
            tokens, finish = tokens[:max_tokens], "length"
            text = "".join(tokens)
        stream = _Stream(fake, chat=chat, model=str(body.get("model") or fake.model))
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        thinking = len(tokenize(text[:reasoning_end])) if chat and fake.reasoning_parser else 0
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
            }
        )
        if not await _take_slot(fake):
            await response.prepare(request)
            queue_full = {"error": _error_body(QUEUE_FULL, HTTPStatus.SERVICE_UNAVAILABLE.value)}
            await response.write(_spaced_sse(queue_full))
            if include_usage:  # SGLang still sends its usage chunk, all zeros
                await response.write(stream.chunk([], _usage(0, 0, 0, chat=chat)))
            await response.write(b"data: [DONE]\n\n")
            return response
        try:
            if fake.first_token_delay_s:
                await asyncio.sleep(fake.first_token_delay_s)
            await response.prepare(request)
            split = (reasoning_end, answer_start)
            cut = await _send_stream(request, response, stream, text, tokens, split, finish)
            if include_usage:  # after an error chunk too, counting what was sent
                sent = len(tokens) if cut is None else cut
                usage = _usage(prompt_tokens, sent, min(sent, thinking), chat=chat)
                await response.write(stream.chunk([], usage))
            await response.write(b"data: [DONE]\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            fake.disconnects += 1
            raise
        finally:
            fake.running -= 1
        fake.completed += 1
        return response

    async def _complete_whole(body: dict[str, Any], prompt: str) -> web.Response:
        """A non-streamed text completion in SGLang's shape."""
        if fake.brief_delay_s:
            await asyncio.sleep(fake.brief_delay_s)
        if fake.brief_status != 200:
            error = _error_body(fake.error_message, fake.brief_status)
            return _json(error, status=fake.brief_status)
        text = fake.brief_reply(prompt)
        finish: str = "stop"
        matched: int | str | None = EOS_TOKEN_ID
        stops = body.get("stop")
        for stop in [stops] if isinstance(stops, str) else stops or []:
            if isinstance(stop, str) and stop and stop in text:
                text, matched = text[: text.index(stop)], stop
        max_tokens = body.get("max_tokens")
        tokens = tokenize(text)
        if isinstance(max_tokens, int) and len(tokens) > max_tokens:
            text, finish, matched = "".join(tokens[:max_tokens]), "length", None
        prompt_tokens = len(tokenize(prompt))
        completion_tokens = len(tokenize(text))
        return _json(
            {
                "id": uuid.uuid4().hex,
                "object": "text_completion",
                "created": int(time.time()),
                "model": str(body.get("model") or fake.model),
                "choices": [
                    {
                        "index": 0,
                        "text": text,
                        "logprobs": None,
                        "finish_reason": finish,
                        "matched_stop": matched,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                    "completion_tokens": completion_tokens,
                    "prompt_tokens_details": None,
                },
            }
        )

    async def _send_stream(
        request: web.Request,
        response: web.StreamResponse,
        stream: _Stream,
        text: str,
        tokens: list[str],
        split: tuple[int, int],
        finish: str,
    ) -> int | None:
        """Send the reply; None, or after an error chunk the number of tokens sent before it."""
        reasoning_end, answer_start = split
        sent = 0
        if stream.chat:
            await response.write(stream.chunk([stream.choice(role="assistant", content="")]))
        pieces = _chunks(text, tokens, fake)
        for number, (start, end, count) in enumerate(pieces):
            if number == fake.stall_after_chunks:
                await _keep_alive_forever(request, response, stream)
            if number == fake.error_after_chunks:
                error = _error_body(fake.error_message, fake.error_status)
                await response.write(
                    _spaced_sse(error if fake.error_shape == "flat" else {"error": error})
                )
                return sent
            sent += count
            if fake.token_delay_s:
                await asyncio.sleep(fake.token_delay_s * count)
            if request.transport is None or request.transport.is_closing():
                raise ConnectionResetError("client went away")
            last = number == len(pieces) - 1 and not stream.chat
            if not stream.chat or not fake.reasoning_parser:
                await response.write(
                    stream.chunk([stream.choice(finish if last else None, content=text[start:end])])
                )
                continue
            thought = text[start : min(end, reasoning_end)]
            said = text[max(start, answer_start) : end]
            if thought:
                await response.write(stream.chunk([stream.choice(reasoning_content=thought)]))
            if said:
                await response.write(stream.chunk([stream.choice(content=said)]))
        if stream.chat:
            await response.write(stream.chunk([stream.choice(finish)]))
        return None

    async def _keep_alive_forever(
        request: web.Request, response: web.StreamResponse, stream: _Stream
    ) -> None:
        while True:
            await asyncio.sleep(fake.stall_interval_s)
            if request.transport is None or request.transport.is_closing():
                raise ConnectionResetError("client went away")
            if fake.stall == "ping":
                await response.write(b": ping\n\n")
            else:
                await response.write(stream.chunk([{"index": 0, "delta": {}}]))

    app = web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)
    app.router.add_get("/metrics", metrics)
    app.router.add_route("*", "/flush_cache", flush_cache)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/completions", completions)
    return app


def main(argv: Sequence[str] | None = None) -> None:
    """Serve a fake SGLang until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.sglang", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=30000)
    parser.add_argument("--model", default=FakeSGLang.model)
    parser.add_argument("--reasoning", default=DEFAULT_REASONING)
    parser.add_argument("--answer", default=DEFAULT_ANSWER)
    parser.add_argument("--no-reasoning-parser", action="store_true")
    parser.add_argument("--tokens-per-second", type=float, default=0.0, help="0 = no delay")
    parser.add_argument("--tokens-per-chunk", type=int, default=1)
    parser.add_argument("--first-token-delay", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--context-length", type=int, default=FakeSGLang.context_length)
    parser.add_argument("--api-key", default=None)
    args = parser.parse_args(argv)
    fake = FakeSGLang(
        reasoning=args.reasoning,
        answer=args.answer,
        reasoning_parser=not args.no_reasoning_parser,
        model=args.model,
        context_length=args.context_length,
        tokens_per_chunk=args.tokens_per_chunk,
        token_delay_s=1.0 / args.tokens_per_second if args.tokens_per_second > 0 else 0.0,
        first_token_delay_s=args.first_token_delay,
        api_key=args.api_key,
    )
    print(f"fake SGLang serving {fake.model} at http://{args.host}:{args.port}/v1", flush=True)
    web.run_app(fake.app(), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
