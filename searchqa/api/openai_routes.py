"""``POST /v1/chat/completions`` and ``GET /v1/models``: searchqa as an OpenAI model.

Register ``OpenAIController`` and provide the dependency ``answer_source`` (an
``AnswerSource``). How messages become a question is in ``openai_models``; how events become
chunks is in ``openai_stream``.

Errors keep OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}`` served as
``application/json`` rather than problem details, because OpenAI clients read exactly that body
(``error.code`` carries searchqa's stable code). Refusals are 400 (malformed JSON or fields, no
user message, unusable question, ``n`` other than 1, ``max_tokens`` below 1), 404 for a ``model``
other than ``searchqa``, or the status of the ``SearchQAError`` raised; a failure
reported before the first chunk is 503 when a retry may help, else 502 for an upstream and 500
otherwise. ``x-should-retry`` tells OpenAI clients whether retrying can help. Once a stream has
begun, a failure is one ``data: {"error": ...}`` event followed by ``data: [DONE]``.

A stream begins when the sources are known, so its first chunk carries them; before that the
request waits without a response, and a failure still gets a proper status. A client that
disconnects, while waiting or mid-stream, closes the answer source so search, fetches and the
model request stop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine
from contextlib import aclosing
from typing import Any, TypeVar

from litestar import Controller, Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody
from litestar.response import Stream
from litestar.types import Receive

from searchqa.api.openai_models import (
    ChatCompletion,
    ChatCompletionRequest,
    ErrorResponse,
    ModelCard,
    ModelList,
    UnknownModelError,
    to_answer_request,
)
from searchqa.api.openai_stream import (
    DONE_LINE,
    ChunkTranslator,
    build_completion,
    error_response,
    sse_line,
)
from searchqa.api.problems import status_code
from searchqa.api.route_facts import route_facts
from searchqa.errors import SearchQAError, http_status_for
from searchqa.events import DoneEvent, ErrorEvent, Event, SourcesEvent
from searchqa.service.requests import AnswerSource

__all__ = ["ANSWER_SOURCE", "OpenAIController"]

ANSWER_SOURCE = "answer_source"
MODEL_CREATED = 1737331200  # DeepSeek-R1's release, 2025-01-20
CLIENT_CLOSED_REQUEST = 499  # never reaches the client; it is gone
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

log = logging.getLogger(__name__)
T = TypeVar("T")


class ClientDisconnectedError(Exception):
    """The client closed the connection before its answer was ready."""


def openai_error(
    message: str, *, code: str, status: int, retryable: bool = False, param: str | None = None
) -> Response[ErrorResponse]:
    body = error_response(message, code=code, http_status=status, param=param)
    return Response(
        body,
        status_code=status,
        media_type="application/json",
        headers={"x-should-retry": "true" if retryable else "false"},
    )


def _searchqa_error(_: Request[Any, Any, Any], exc: SearchQAError) -> Response[ErrorResponse]:
    param = exc.param if isinstance(exc, UnknownModelError) else None
    return openai_error(
        exc.message, code=exc.code, status=exc.http_status, retryable=exc.retryable, param=param
    )


def _http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorResponse]:
    message, param = exc.detail, None
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list) and exc.extra:
        problems = [p for p in exc.extra if isinstance(p, dict)]
        message = "; ".join(f"{p.get('key', 'body')}: {p.get('message', '')}" for p in problems)
        param = next((str(p["key"]) for p in problems if p.get("key")), None)
    if isinstance(exc, ValidationException):
        code = "invalid_request"
    else:
        code = status_code(exc.status_code)
    return openai_error(message, code=code, status=exc.status_code, param=param)


def _internal_error(_: Request[Any, Any, Any], exc: Exception) -> Response[ErrorResponse]:
    log.error("chat completion failed", exc_info=exc)
    return openai_error("internal error", code="internal_error", status=500)


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def unless_disconnected(receive: Receive, work: Coroutine[Any, Any, T]) -> T:
    """Run ``work``; cancel it and raise ClientDisconnectedError if the client leaves first.

    Only for the time before a response starts, once the request body has been read.
    """
    job = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(receive))
    try:
        await asyncio.wait((job, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        job.cancel()
        await asyncio.wait((job, watcher))
    if job.cancelled():
        raise ClientDisconnectedError
    return job.result()


async def _read_until_sources(events: AsyncIterator[Event]) -> list[Event]:
    """Events up to the sources, or to the end if the stream stops earlier."""
    head: list[Event] = []
    async for event in events:
        head.append(event)
        if isinstance(event, SourcesEvent | DoneEvent | ErrorEvent):
            break
    return head


async def _read_all(events: AsyncGenerator[Event, None]) -> list[Event]:
    async with aclosing(events):
        return [event async for event in events]


async def _sse_body(
    head: list[Event], events: AsyncGenerator[Event, None], translator: ChunkTranslator
) -> AsyncGenerator[bytes, None]:
    async with aclosing(events):
        try:
            for event in head:
                for payload in translator.translate(event):
                    yield sse_line(payload)
            if not translator.finished:
                async for event in events:
                    for payload in translator.translate(event):
                        yield sse_line(payload)
                    if translator.finished:
                        break
        except SearchQAError as exc:
            error = error_response(exc.message, code=exc.code, http_status=exc.http_status)
            yield sse_line(error)
        except Exception:
            log.exception("chat completion stream failed")
            yield sse_line(error_response("internal error", code="internal_error", http_status=500))
        else:
            if not translator.finished:
                log.error("the answer stream ended without done or error")
                yield sse_line(
                    error_response("the answer ended early", code="incomplete", http_status=502)
                )
    yield DONE_LINE


def _stream_response(
    head: list[Event], events: AsyncGenerator[Event, None], translator: ChunkTranslator
) -> Stream:
    body = _sse_body(head, events, translator)

    async def close() -> None:
        # Runs after the response, also when the client left while the body waited on a send.
        await body.aclose()
        await events.aclose()

    return Stream(
        body,
        media_type="text/event-stream",
        headers=STREAM_HEADERS,
        background=BackgroundTask(close),
    )


def _failure_before_output(
    events: list[Event], *, complete: type[Event] | tuple[type[Event], ...]
) -> Response[ErrorResponse] | None:
    """The error response if ``events`` ended in failure, or ended before ``complete``."""
    last = events[-1] if events else None
    if isinstance(last, ErrorEvent):
        return openai_error(
            last.message, code=last.code, status=http_status_for(last), retryable=last.retryable
        )
    if not isinstance(last, complete):
        log.error("the answer stream ended without done or error")
        return openai_error("the answer ended early", code="incomplete", status=502)
    return None


_RESPONSES = {
    200: ResponseSpec(
        ChatCompletion,
        description="One chat.completion, or with `stream: true` text/event-stream chunks",
    ),
    400: ResponseSpec(ErrorResponse, description="Invalid request (OpenAI error body)"),
    404: ResponseSpec(ErrorResponse, description="No such model (`model_not_found`)"),
    502: ResponseSpec(ErrorResponse, description="An upstream failed (OpenAI error body)"),
    503: ResponseSpec(ErrorResponse, description="Search or model unavailable; retry"),
}


class OpenAIController(Controller):
    """OpenAI's chat completions and model list, answered by searchqa."""

    path = "/v1"
    tags = ["OpenAI-compatible"]  # noqa: RUF012 (Litestar reads a plain class attribute)
    exception_handlers = {  # noqa: RUF012 (Litestar reads a plain class attribute)
        SearchQAError: _searchqa_error,
        HTTPException: _http_error,
        Exception: _internal_error,
    }

    @get("/models", summary="List models (OpenAI-compatible)", opt=route_facts(access="secret"))
    async def list_models(self) -> ModelList:
        return ModelList(data=[ModelCard(created=MODEL_CREATED)])

    @post(
        "/chat/completions",
        status_code=200,
        summary="Chat completion (OpenAI-compatible)",
        description=(
            "The last user message is the question, earlier user/assistant messages the "
            "history. With `stream: true`, Server-Sent Events of `chat.completion.chunk` "
            "ending with `data: [DONE]`; otherwise one `chat.completion`. Both carry "
            "`reasoning_content`, `[n]` citations with `url_citation` annotations, and "
            "Perplexity-style `search_results` and `citations`."
        ),
        responses=_RESPONSES,
        opt=route_facts(access="secret", generates=True, stream="ChatCompletionChunk"),
    )
    async def chat_completions(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ChatCompletionRequest],
        answer_source: NamedDependency[AnswerSource],
    ) -> Response[Any]:
        question = to_answer_request(data)
        created = int(time.time())
        events = answer_source(question)
        stream: Stream | None = None
        try:
            if not data.stream:
                every = await unless_disconnected(request.receive, _read_all(events))
                failure = _failure_before_output(every, complete=DoneEvent)
                return failure or Response(build_completion(every, created=created))
            head = await unless_disconnected(request.receive, _read_until_sources(events))
            failure = _failure_before_output(head, complete=(SourcesEvent, DoneEvent))
            if failure is not None:
                return failure
            translator = ChunkTranslator(created=created, include_usage=data.include_usage)
            stream = _stream_response(head, events, translator)
            return stream
        except ClientDisconnectedError:
            return Response(b"", status_code=CLIENT_CLOSED_REQUEST)
        finally:
            if stream is None:
                await events.aclose()
