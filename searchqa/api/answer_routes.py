"""The answer API: start, stream (SSE or JSON), resume, fetch and stop answers; file answers.

- ``POST /v1/answer`` (JSON) and ``GET /v1/answer?q=...`` (for EventSource) start an answer and
  stream its events as SSE, or return one JSON document with ``stream: false`` or
  ``Accept: application/json``. A ``Last-Event-ID: <request_id>-<seq>`` on the GET resumes
  that stream instead of starting over.
- ``GET /v1/answers/{id}/events`` replays after ``Last-Event-ID`` and follows live;
  ``GET /v1/answers/{id}`` is the answer so far as JSON; ``DELETE`` stops it.
- ``POST /v1/files/answer`` (multipart ``file`` + ``question``) answers from one file.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Coroutine
from contextlib import aclosing
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from litestar import Request, Response, delete, get, post, route
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.enums import HttpMethod, RequestEncodingType
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import (
    Body,
    FromPath,
    FromQuery,
    HeaderParameter,
    JSONBody,
    QueryParameter,
)
from litestar.response import Stream

from searchqa.api.answer_models import (
    QUESTION_PATTERN,
    AnswerBody,
    AnswerDocument,
    FileQuestion,
    build_document,
)
from searchqa.api.problems import problem_response, problem_specs
from searchqa.api.route_facts import route_facts
from searchqa.api.sse import KEEPALIVE, SSE_HEADERS, SSE_MEDIA_TYPE, encode_events, parse_event_id
from searchqa.errors import InvalidRequestError, http_status_for
from searchqa.events import EVENT_ORDER
from searchqa.files import check_size, read_file_text
from searchqa.service.requests import AnswerRequest
from searchqa.service.sessions import AnswerSessions, Ticket, UnknownAnswerError
from searchqa.settings import Settings

JSON_BODY_LIMIT = 2 * 1024 * 1024
STREAM_DESCRIPTION = (
    "`text/event-stream`: one message per event (`event: <type>`, `id: <request_id>-<seq>`, "
    f"`data: <the event as JSON>`): `{EVENT_ORDER}`, with `: keep-alive` comments while idle. "
    "With `stream: false` or `Accept: application/json`: one JSON document (this schema)."
)
_STARTS = {
    200: ResponseSpec(AnswerDocument, description=STREAM_DESCRIPTION),
    **problem_specs(400, 422, 502, 503),
}
LastEventId = Annotated[
    str | None, HeaderParameter(name="Last-Event-ID", description="<request_id>-<seq>")
]
CLIENT_CLOSED_REQUEST = 499  # never reaches the client; it is gone
T = TypeVar("T")


def wants_json(request: Request[Any, Any, Any], *, stream: bool) -> bool:
    """JSON with ``stream: false`` or when the client accepts JSON but not event streams."""
    accept = request.headers.get("accept", "").lower()
    return not stream or ("application/json" in accept and SSE_MEDIA_TYPE not in accept)


async def _sse_body(
    sessions: AnswerSessions, ticket: Ticket, after: int
) -> AsyncGenerator[bytes, None]:
    async with aclosing(sessions.follow_batches(ticket, after=after)) as batches:
        async for batch in batches:
            yield KEEPALIVE if batch is None else encode_events(ticket.stream_id, batch)


def sse_response(sessions: AnswerSessions, ticket: Ticket, *, after: int = 0) -> Stream:
    body = _sse_body(sessions, ticket, after)
    # The body may be left suspended when the client leaves mid-send; close it regardless.
    return Stream(
        body,
        media_type=SSE_MEDIA_TYPE,
        headers=SSE_HEADERS,
        background=BackgroundTask(body.aclose),
    )


async def _until_disconnect(
    request: Request[Any, Any, Any], work: Coroutine[Any, Any, T]
) -> T | None:
    """Run ``work``; cancel it and return None if the client disconnects first."""

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    job, watcher = asyncio.ensure_future(work), asyncio.ensure_future(disconnected())
    try:
        await asyncio.wait((job, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        job.cancel()
        await asyncio.wait((job, watcher))
    return None if job.cancelled() else job.result()


async def _collect(sessions: AnswerSessions, ticket: Ticket) -> AnswerDocument:
    async with aclosing(sessions.follow(ticket)) as entries:
        return build_document([entry.data async for entry in entries if entry is not None])


def document_response(doc: AnswerDocument) -> Response[Any]:
    """200 with the document, or the problem the answer ended with."""
    if doc.status == "error" and doc.error is not None:
        error = doc.error
        return problem_response(
            http_status_for(error),
            code=error.code,
            detail=error.message,
            retryable=error.retryable,
            service=error.service,
            request_id=doc.request_id,
        )
    return Response(doc.to_dict())


async def _respond(
    request: Request[Any, Any, Any], sessions: AnswerSessions, ticket: Ticket, *, as_json: bool
) -> Response[Any]:
    if not as_json:
        return sse_response(sessions, ticket)
    doc = await _until_disconnect(request, _collect(sessions, ticket))
    if doc is None:  # the client left; nobody reads this
        return Response(None, status_code=CLIENT_CLOSED_REQUEST)
    return document_response(doc)


async def resume(sessions: AnswerSessions, stream_id: str, *, after: int) -> Response[Any]:
    """Replay ``stream_id`` after seq ``after`` and follow it; 204 when nothing is left."""
    batch = await sessions.peek(stream_id, after=after)
    if not batch.reachable:
        return problem_response(503, detail="the answer store is unreachable; retry shortly")
    if not batch.exists:
        raise UnknownAnswerError(stream_id)
    if batch.finished and not batch.events:
        # 204 tells an EventSource the stream is over, so it stops reconnecting.
        return Response(None, status_code=204)
    return sse_response(sessions, await sessions.rejoin(stream_id), after=after)


@post(
    "/v1/answer",
    status_code=200,
    request_max_body_size=JSON_BODY_LIMIT,
    tags=["answers"],
    responses=_STARTS,
    opt=route_facts(access="publishable", generates=True, stream="Event"),
)
async def post_answer(
    request: Request[Any, Any, Any],
    data: JSONBody[AnswerBody],
    sessions: NamedDependency[AnswerSessions],
) -> Response[Any]:
    """Answer a question: SSE events, or one JSON document (``stream: false``)."""
    ticket = await sessions.open(data.to_request())
    return await _respond(
        request, sessions, ticket, as_json=wants_json(request, stream=data.stream)
    )


@get(
    "/v1/answer",
    tags=["answers"],
    responses=_STARTS,
    opt=route_facts(access="publishable", generates=True, stream="Event"),
)
async def get_answer(
    request: Request[Any, Any, Any],
    sessions: NamedDependency[AnswerSessions],
    q: Annotated[
        str | None,
        QueryParameter(
            description="The question (a reconnect's Last-Event-ID resumes its answer)",
            required=True,
            schema_extra={"pattern": QUESTION_PATTERN, "maxLength": 2000},
        ),
    ] = None,
    engines: Annotated[
        str | None,
        QueryParameter(description="Comma-separated engines among the configured ones"),
    ] = None,
    max_sources: Annotated[int | None, QueryParameter(ge=1, le=20)] = None,
    no_cache: FromQuery[bool] = False,
    stream: FromQuery[bool] = True,
    last_event_id: LastEventId = None,
) -> Response[Any]:
    """The same as POST, for EventSource; ``Last-Event-ID`` resumes that answer's stream."""
    position = parse_event_id(last_event_id)
    if position is not None and await sessions.exists(position.stream_id):
        return await resume(sessions, position.stream_id, after=position.seq)
    if q is None:
        raise InvalidRequestError("the query parameter q is required", http_status=422)
    names = list(dict.fromkeys(n.strip() for n in (engines or "").split(",") if n.strip()))
    body = AnswerRequest(query=q, engines=names or None, max_sources=max_sources, no_cache=no_cache)
    ticket = await sessions.open(body)
    return await _respond(request, sessions, ticket, as_json=wants_json(request, stream=stream))


@get(
    "/v1/answers/{request_id:str}/events",
    tags=["answers"],
    responses={
        200: ResponseSpec(None, description=STREAM_DESCRIPTION.split(" With")[0]),
        204: ResponseSpec(None, description="Nothing after Last-Event-ID: the stream is over"),
        **problem_specs(404, 503),
    },
    opt=route_facts(access="publishable", stream="Event"),
)
async def answer_events(
    request_id: FromPath[str],
    sessions: NamedDependency[AnswerSessions],
    last_event_id: LastEventId = None,
    after: Annotated[
        int | None,
        QueryParameter(ge=0, description="Resume after this seq", schema_extra={"minimum": 0}),
    ] = None,
) -> Response[Any]:
    """Replay an answer's events after ``Last-Event-ID`` (or ``after``), then follow live."""
    position = parse_event_id(last_event_id)
    seq = position.seq if position is not None and position.stream_id == request_id else 0
    return await resume(sessions, request_id, after=after if after is not None else seq)


@get(
    "/v1/answers/{request_id:str}",
    tags=["answers"],
    responses={200: ResponseSpec(AnswerDocument), **problem_specs(404, 409, 502, 503)},
    opt=route_facts(access="publishable"),
)
async def get_answer_document(
    request_id: FromPath[str], sessions: NamedDependency[AnswerSessions]
) -> Response[Any]:
    """The answer as one JSON document; ``status`` is ``running`` until it ends."""
    batch = await sessions.peek(request_id)
    if not batch.exists:
        raise UnknownAnswerError(request_id)
    return document_response(build_document(entry.data for entry in batch.events))


@delete(
    "/v1/answers/{request_id:str}",
    status_code=204,
    tags=["answers"],
    responses=problem_specs(404),
    opt=route_facts(access="secret"),
)
async def stop_answer(request_id: FromPath[str], sessions: NamedDependency[AnswerSessions]) -> None:
    """Stop an answer; its stream ends with an ``error`` event, code ``cancelled``."""
    if not await sessions.stop(request_id):
        raise UnknownAnswerError(request_id)


@post(
    "/v1/files/answer",
    status_code=200,
    tags=["answers"],
    responses=_STARTS | problem_specs(413, 415),
    opt=route_facts(access="secret", generates=True, stream="Event"),
)
async def post_file_answer(
    request: Request[Any, Any, Any],
    data: Annotated[FileQuestion, Body(media_type=RequestEncodingType.MULTI_PART)],
    sessions: NamedDependency[AnswerSessions],
    settings: NamedDependency[Settings],
) -> Response[Any]:
    """Answer a question about one file (text, Markdown, HTML or PDF)."""
    upload, limit = data.file, settings.server.max_upload_bytes
    raw = await upload.read(limit + 1)
    await upload.close()
    name = upload.filename or "file"
    check_size(name, len(raw), limit=limit)
    url = f"upload:{quote(name)}"
    document = await read_file_text(
        name, upload.content_type, raw, url=url, extractor=sessions.kit.extractor
    )
    ticket = await sessions.open_file(
        data.question, file_name=name, file_content=document.text, file_url=url
    )
    return await _respond(
        request, sessions, ticket, as_json=wants_json(request, stream=data.stream)
    )


def allow_options(handlers: list[HTTPRouteHandler]) -> list[HTTPRouteHandler]:
    """``handlers``, each path served by several of them preceded by its own OPTIONS handler.

    Litestar 2 answers OPTIONS on such a path with the methods of the first handler only (its
    Allow omits ``GET`` on ``/v1/answer``); one declared before them lists them all.
    """
    methods: dict[str, set[str]] = {}
    for handler in handlers:
        for path in handler.paths:
            methods.setdefault(path, set()).update(handler.http_methods)
    shared = {path: found for path, found in methods.items() if len(found) > 1}
    return [*(_options(path, found) for path, found in shared.items()), *handlers]


def _options(path: str, methods: set[str]) -> HTTPRouteHandler:
    allow = ", ".join(sorted(methods | {"OPTIONS"}))

    async def options() -> Response[None]:
        return Response(None, status_code=204, headers={"Allow": allow})

    return route(
        path,
        http_method=[HttpMethod.OPTIONS],
        include_in_schema=False,
        opt=route_facts(access="open", quiet=True),
    )(options)


ANSWER_ROUTES = allow_options(
    [post_answer, get_answer, answer_events, get_answer_document, stop_answer, post_file_answer]
)
