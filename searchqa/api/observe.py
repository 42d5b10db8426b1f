"""Where the service is watched: HTTP requests, answers and cache lookups.

- ``RequestObserver`` (middleware, outermost): gives each request an id (a valid incoming
  ``X-Request-ID``, else a new one; echoed in the response), binds it to the logs, writes the
  access log line and counts requests by route and status and the event streams open.
- ``unrouted_observer``: the same count and log line for requests no route matched (404, 405),
  which never reach route middleware.
- ``observe_state``: wraps the shared state so every answer (its ``done`` or ``error`` event,
  written once by whichever worker generates it) and every cache lookup (by the cache its key
  names: ``answer``, ``search``, ``page``) is counted.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from dataclasses import replace
from typing import assert_never

from litestar.enums import ScopeType
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, BeforeMessageSendHookHandler, Message, Receive, Scope, Send

from searchqa.api.logs import ACCESS_LOGGER, bind_request, note_answer, unbind_request
from searchqa.api.metrics import STREAMS_CLOSED, STREAMS_OPENED, Metrics
from searchqa.api.route_facts import is_quiet
from searchqa.events import (
    AnswerEvent,
    CitationEvent,
    DoneEvent,
    ErrorEvent,
    MetaEvent,
    ReasoningEvent,
    SourcesEvent,
    StatusEvent,
    parse_event,
)
from searchqa.state.protocols import EventBatch, EventLog, KeyValueCache, StateBackend

REQUEST_ID_HEADER = "x-request-id"
UNMATCHED_ROUTE = "unmatched"
CLIENT_CLOSED_REQUEST = 499
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_STAGES = {"search": "search_ms", "fetch": "fetch_ms", "first_answer": "first_answer_ms"}

access_log = logging.getLogger(ACCESS_LOGGER)
log = logging.getLogger(__name__)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _log_access(scope: Scope, route: str, status: int, duration_ms: float | None) -> None:
    """One access line; routes declaring ``quiet`` (probes, scrapes) log at DEBUG."""
    method, path = scope.get("method", ""), scope.get("path", "")
    client = scope.get("client")
    access_log.log(
        logging.DEBUG if is_quiet(scope.get("route_handler")) else logging.INFO,
        "%s %s %d",
        method,
        path,
        status,
        extra={
            "method": method,
            "route": route,
            "path": path,
            "status": status,
            "duration_ms": duration_ms,
            "client": client[0] if client else None,
        },
    )


class RequestObserver:
    """ASGI middleware: request id, access log, request and stream metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self._app(scope, receive, send)
            return
        incoming = _header(scope, REQUEST_ID_HEADER.encode())
        request_id = incoming if incoming and _VALID_ID.match(incoming) else uuid.uuid4().hex
        token = bind_request(request_id)
        started = time.perf_counter()
        status: int | None = None
        streaming = failed = False

        async def observed_send(message: Message) -> None:
            nonlocal status, streaming
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ()), (b"x-request-id", request_id.encode())]
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if content_type.startswith(b"text/event-stream"):
                    streaming = True
                    self._metrics.count(STREAMS_OPENED)
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self._app(scope, receive, observed_send)
        except BaseException:
            failed = True
            raise
        finally:
            if streaming:
                self._metrics.count(STREAMS_CLOSED)
            final = status if status is not None else 500 if failed else CLIENT_CLOSED_REQUEST
            route = scope.get("path_template") or UNMATCHED_ROUTE
            method = str(scope.get("method", ""))
            labels = {"route": route, "method": method, "status": str(final)}
            self._metrics.count("http_requests", labels)
            _log_access(scope, route, final, round((time.perf_counter() - started) * 1000, 1))
            unbind_request(token)


def unrouted_observer(metrics: Metrics) -> BeforeMessageSendHookHandler:
    """A ``before_send`` hook that counts and logs responses of requests no route matched."""

    async def observe(message: Message, scope: Scope) -> None:
        if (
            message["type"] == "http.response.start"
            and scope["type"] == ScopeType.HTTP
            and "route_handler" not in scope
        ):
            status = message["status"]
            method = str(scope.get("method", ""))
            labels = {"route": UNMATCHED_ROUTE, "method": method, "status": str(status)}
            metrics.count("http_requests", labels)
            _log_access(scope, UNMATCHED_ROUTE, status, None)

    return observe


class ObservedCache:
    """Counts hits and misses by the cache a key belongs to (the part before its first ``:``)."""

    def __init__(self, inner: KeyValueCache, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def get(self, key: str) -> bytes | None:
        value = await self._inner.get(key)
        name = "cache_hits" if value is not None else "cache_misses"
        self._metrics.count(name, {"cache": key.split(":", 1)[0]})
        return value

    async def set(self, key: str, value: bytes, *, ttl_s: float) -> None:
        await self._inner.set(key, value, ttl_s=ttl_s)


class ObservedEventLog:
    """Counts answers as their last event is written; names the answer in the writer's logs."""

    def __init__(self, inner: EventLog, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def append(self, stream_id: str, event_type: str, data: str) -> int:
        seq = await self._inner.append(stream_id, event_type, data)
        if seq == 1:
            note_answer(stream_id)
        if event_type in ("done", "error"):
            self._record_end(data)
        return seq

    def _record_end(self, data: str) -> None:
        try:
            event = parse_event(data)
        except ValueError:  # never let counting break an answer
            log.warning("could not count an answer's last event", exc_info=True)
            return
        match event:
            case ErrorEvent():
                self._metrics.count("errors", {"code": event.code})
            case DoneEvent():
                self._record_done(event)
            case (
                MetaEvent()
                | StatusEvent()
                | SourcesEvent()
                | ReasoningEvent()
                | AnswerEvent()
                | CitationEvent()
            ):
                log.warning("a %s event was logged as the last one", event.type)
            case _:
                assert_never(event)

    def _record_done(self, event: DoneEvent) -> None:
        metrics = self._metrics
        metrics.count("answers", {"cached": str(event.cached).lower()})
        if event.cached:
            return  # a replay: its timings are the original answer's
        timings = event.timings
        for stage, field in [*_STAGES.items(), ("total", "total_ms")]:
            value = getattr(timings, field)
            if value is not None:
                metrics.observe("stage_duration_seconds", value / 1000, {"stage": stage})
        if timings.first_token_ms is not None:
            metrics.observe("time_to_first_token_seconds", timings.first_token_ms / 1000)

    async def finish(self, stream_id: str) -> None:
        await self._inner.finish(stream_id)

    async def read(self, stream_id: str, *, after: int, block_s: float = 0) -> EventBatch:
        return await self._inner.read(stream_id, after=after, block_s=block_s)

    async def request_stop(self, stream_id: str) -> None:
        await self._inner.request_stop(stream_id)

    async def stop_requested(self, stream_id: str) -> bool:
        return await self._inner.stop_requested(stream_id)

    async def attach(self, stream_id: str, client_id: str, *, ttl_s: float) -> None:
        await self._inner.attach(stream_id, client_id, ttl_s=ttl_s)

    async def detach(self, stream_id: str, client_id: str) -> None:
        await self._inner.detach(stream_id, client_id)

    async def attached(self, stream_id: str) -> int:
        return await self._inner.attached(stream_id)


def observe_state(state: StateBackend, metrics: Metrics) -> StateBackend:
    """``state`` with its cache lookups and answers counted in ``metrics``."""
    return replace(
        state,
        cache=ObservedCache(state.cache, metrics),
        events=ObservedEventLog(state.events, metrics),
    )


def observe_requests(metrics: Metrics) -> DefineMiddleware:
    """The request middleware for ``metrics`` (first in Litestar's ``middleware`` list)."""
    return DefineMiddleware(RequestObserver, metrics=metrics)
