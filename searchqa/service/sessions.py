"""Answer sessions: a generation runs apart from the clients that read it.

Opening a session starts the generation as a task the app owns. It appends each event's JSON to
the event log (seq 1, 2, ...) and then finishes the stream. Every client (the one who asked,
resumers with ``Last-Event-ID``, single-flight followers) is a reader: it replays the log after
its last seq and follows live, attached with a heartbeat. Generation goes on while any client is
attached and for ``grace_s`` after the last one leaves. Then, or on a stop request, or when
shutdown runs out of time, the task is cancelled (closing page fetches and the model request)
and the stream ends with an ``error`` event.

Identical questions share work: a finished answer is replayed from the answer cache with
``cached: true``, and a question asked while the same one is generating follows that
generation. Neither applies to requests with history or ``no_cache``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncGenerator, Coroutine
from contextlib import aclosing
from dataclasses import dataclass
from functools import partial
from typing import Any

from searchqa.answer import answer, answer_file
from searchqa.errors import SearchQAError, UpstreamError
from searchqa.events import DoneEvent, ErrorEvent, Event, MetaEvent, parse_event
from searchqa.kit import AnswerKit, KitVariants
from searchqa.service.generation import Generation, StopReason, stop_event
from searchqa.service.requests import AnswerRequest
from searchqa.service.sharing import SharedAnswers
from searchqa.settings import Settings
from searchqa.state.protocols import EventBatch, LogEntry, StateBackend

ATTACH_TTL_S = 10.0
"""A reader that stops refreshing (its worker died) stops counting after this long."""
ATTACH_REFRESH_S = 3.0
READ_BLOCK_S = 1.0
START_WAIT_S = 30.0
"""How long a follower waits for its leader's first event before generating on its own."""
DRAIN_MARGIN_S = 1.0

log = logging.getLogger(__name__)


class ShuttingDownError(SearchQAError):
    """The server is shutting down and takes no new answers."""

    code = "shutting_down"
    retryable = True


class UnknownAnswerError(SearchQAError):
    """No answer has this id (never had, or it expired)."""

    code = "unknown_answer"

    def __init__(self, stream_id: str) -> None:
        super().__init__(f"no answer {stream_id}; answers are kept for a limited time")


class StreamFailedError(UpstreamError):
    """The generation a follower joined failed before its first event."""

    def __init__(self, event: ErrorEvent) -> None:
        super().__init__(event.message, code=event.code)
        self.retryable = event.retryable
        self.service = event.service or "upstream"


@dataclass(frozen=True, slots=True)
class Ticket:
    """A reader's place: the stream it reads and its attachment."""

    stream_id: str
    client_id: str


def new_id() -> str:
    return uuid.uuid4().hex


class AnswerSessions:
    """Starts, shares, follows and stops answer generations."""

    def __init__(self, *, kit: AnswerKit, state: StateBackend, settings: Settings) -> None:
        self._kit = kit
        self._log = state.events
        self._server = settings.server
        self._variants = KitVariants(kit, cache=state.cache)
        self._shared = SharedAnswers(state, settings)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._generations: dict[str, Generation] = {}
        """Generations running in this process, by stream id (a local stop reaches them now)."""
        self._drain_deadline: float | None = None
        self._closing = False

    # -- opening ---------------------------------------------------------------------------

    async def open(self, request: AnswerRequest) -> Ticket:
        """Start (or join, or replay) the answer to ``request``; the caller is attached.

        Raises before any stream exists when the request is invalid or the model unreachable.
        """
        self._refuse_when_draining()
        kit = self._variants.with_engines(request.engines)
        stream_id = new_id()
        events = answer(  # raises now for invalid input; runs only if nobody else has it
            request.query,
            kit=kit,
            request_id=stream_id,
            max_sources=request.max_sources,
            history=request.history,
            temperature=request.temperature,
        )
        key = None
        if not request.no_cache and not request.history:
            key = self._shared.key(request.query, kit, request.max_sources)
            cached = await self._shared.cached(key)
            if cached is not None:
                return await self._replay(stream_id, cached)
            leader = await self._shared.claim(key, stream_id)
            if leader is not None:
                ticket = await self._join(leader)
                if ticket is not None:
                    return ticket
        return await self._start(stream_id, events, key=key)

    async def open_file(
        self, question: str, *, file_name: str, file_content: str, file_url: str
    ) -> Ticket:
        """Start answering a question about one file (never cached or shared)."""
        self._refuse_when_draining()
        stream_id = new_id()
        events = answer_file(
            question,
            file_name=file_name,
            file_content=file_content,
            file_url=file_url,
            kit=self._kit,
            request_id=stream_id,
        )
        return await self._start(stream_id, events, key=None)

    async def rejoin(self, stream_id: str) -> Ticket:
        """Attach a resuming client to an existing stream."""
        ticket = Ticket(stream_id, new_id())
        await self._log.attach(stream_id, ticket.client_id, ttl_s=ATTACH_TTL_S)
        return ticket

    async def _start(
        self, stream_id: str, events: AsyncGenerator[Event, None], *, key: str | None
    ) -> Ticket:
        ticket = Ticket(stream_id, new_id())
        try:
            await self._log.attach(stream_id, ticket.client_id, ttl_s=ATTACH_TTL_S)
        except BaseException:
            if key is not None:
                self._spawn(self._shared.release(key, stream_id))
            raise
        generation = Generation(
            stream_id,
            events,
            log=self._log,
            grace_s=self._server.grace_s,
            on_done=partial(self._shared.remember, key) if key is not None else None,
            forced_stop=self._forced_stop,
        )
        task = self._spawn(generation.run())
        self._generations[stream_id] = generation
        task.add_done_callback(lambda _: self._generations.pop(stream_id, None))
        if key is not None:
            task.add_done_callback(lambda _: self._spawn(self._shared.release(key, stream_id)))
        try:
            await asyncio.shield(generation.started)
        except BaseException:
            self._spawn(self._log.detach(stream_id, ticket.client_id))
            raise
        return ticket

    async def _join(self, leader: str) -> Ticket | None:
        """Follow the leader's generation; None when it never started (generate alone)."""
        ticket = Ticket(leader, new_id())
        await self._log.attach(leader, ticket.client_id, ttl_s=ATTACH_TTL_S)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_WAIT_S
        while (left := deadline - loop.time()) > 0:
            batch = await self._log.read(leader, after=0, block_s=min(left, READ_BLOCK_S))
            if batch.events:
                first = batch.events[0]
                if first.type == "error":
                    self._spawn(self._log.detach(leader, ticket.client_id))
                    failure = parse_event(first.data)
                    assert isinstance(failure, ErrorEvent)
                    raise StreamFailedError(failure)
                return ticket
        self._spawn(self._log.detach(leader, ticket.client_id))
        return None

    async def _replay(self, stream_id: str, cached: list[Event]) -> Ticket:
        """A new stream with the cached answer's events: new request id, ``cached: true``."""
        ticket = Ticket(stream_id, new_id())
        await self._log.attach(stream_id, ticket.client_id, ttl_s=ATTACH_TTL_S)
        for event in cached:
            if isinstance(event, MetaEvent):
                event = event.model_copy(update={"request_id": stream_id})
            elif isinstance(event, DoneEvent):
                event = event.model_copy(update={"cached": True})
            await self._log.append(stream_id, event.type, event.to_json())
        await self._log.finish(stream_id)
        return ticket

    # -- reading ---------------------------------------------------------------------------

    @property
    def kit(self) -> AnswerKit:
        return self._kit

    async def exists(self, stream_id: str) -> bool:
        return (await self.peek(stream_id, after=_END)).exists

    async def peek(self, stream_id: str, *, after: int = 0) -> EventBatch:
        """The stream's events after ``after``, without waiting or attaching."""
        return await self._log.read(stream_id, after=after)

    async def follow(
        self, ticket: Ticket, *, after: int = 0
    ) -> AsyncGenerator[LogEntry | None, None]:
        """Replay after ``after``, then follow live until the stream ends.

        Yields ``None`` after ``keepalive_s`` without news, so a transport can keep the
        connection warm. Closing the generator detaches the reader.
        """
        async with aclosing(self.follow_batches(ticket, after=after)) as batches:
            async for batch in batches:
                if batch is None:
                    yield None
                    continue
                for entry in batch:
                    yield entry

    async def follow_batches(
        self, ticket: Ticket, *, after: int = 0
    ) -> AsyncGenerator[list[LogEntry] | None, None]:
        """``follow``, with the events that were waiting together in one list (never empty),
        so a transport can send them in one write."""
        loop = asyncio.get_running_loop()
        keepalive_s = self._server.keepalive_s
        last_news = last_attach = loop.time()
        stream_id = ticket.stream_id
        try:
            while True:
                now = loop.time()
                if self._drain_expired(now, margin=DRAIN_MARGIN_S):
                    yield [_entry(after, stop_event("shutting_down"))]
                    return
                if now - last_attach >= ATTACH_REFRESH_S:
                    await self._log.attach(stream_id, ticket.client_id, ttl_s=ATTACH_TTL_S)
                    last_attach = now
                wait = min(READ_BLOCK_S, max(0.01, keepalive_s - (now - last_news)))
                batch = await self._log.read(stream_id, after=after, block_s=wait)
                if not batch.reachable:
                    await asyncio.sleep(wait)
                elif not batch.exists:  # expired under the reader
                    yield [_entry(after, _EXPIRED)]
                    return
                if batch.events:
                    after = batch.events[-1].seq
                    yield batch.events
                    last_news = loop.time()
                if batch.finished:
                    return
                if not batch.events and loop.time() - last_news >= keepalive_s:
                    yield None
                    last_news = loop.time()
        finally:
            self._spawn(self._log.detach(stream_id, ticket.client_id))

    async def answer_events(self, request: AnswerRequest) -> AsyncGenerator[Event, None]:
        """The events of one answer, for surfaces that consume typed events (the answer source).

        Invalid requests and an unreachable model raise before the first event.
        """
        ticket = await self.open(request)
        async with aclosing(self.follow(ticket)) as entries:
            async for entry in entries:
                if entry is not None:
                    yield parse_event(entry.data)

    # -- stopping --------------------------------------------------------------------------

    async def stop(self, stream_id: str) -> bool:
        """Ask the stream's generation to stop; False when the stream is unknown."""
        batch = await self.peek(stream_id, after=_END)
        if not batch.exists:
            return False
        if not batch.finished:
            await self._log.request_stop(stream_id)
            local = self._generations.get(stream_id)
            if local is not None:
                local.stop()
        return True

    @property
    def draining(self) -> bool:
        return self._drain_deadline is not None or self._closing

    def begin_drain(self) -> None:
        """Take no new answers; running ones get ``shutdown_grace_s`` to finish."""
        if self._drain_deadline is None:
            loop = asyncio.get_running_loop()
            self._drain_deadline = loop.time() + self._server.shutdown_grace_s
            log.info("draining: %d generations running", len(self._tasks))

    async def aclose(self) -> None:
        """End every generation of this process (``shutting_down``) and wait for them."""
        self._closing = True
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=5.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    def _forced_stop(self) -> StopReason | None:
        if self._closing or self._drain_expired(asyncio.get_running_loop().time()):
            return "shutting_down"
        return None

    def _drain_expired(self, now: float, *, margin: float = 0.0) -> bool:
        deadline = self._drain_deadline
        return deadline is not None and now >= deadline + margin

    def _refuse_when_draining(self) -> None:
        if self.draining:
            raise ShuttingDownError("the server is shutting down; try again shortly")

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def _entry(seq: int, event: Event) -> LogEntry:
    return LogEntry(seq, event.type, event.to_json())


_EXPIRED = ErrorEvent(code="expired", message="the answer is no longer kept", retryable=True)
_END = 2**62
"""A seq past every stream's end: reading after it only tells whether the stream exists."""
