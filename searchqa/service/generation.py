"""One answer generating into the event log, watched for stop requests and absent clients."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from typing import Literal

from searchqa.answer import error_event
from searchqa.errors import SearchQAError
from searchqa.events import DoneEvent, ErrorEvent, Event
from searchqa.state.protocols import EventLog

StopReason = Literal["cancelled", "abandoned", "shutting_down"]
WATCH_INTERVAL_S = 1.0
"""How often the watcher asks the shared state for a stop request (one sent to another worker)
and counts attached clients: two round trips per answer, so not too often. A stop request made
in this process (``Generation.stop``) wakes it at once."""

log = logging.getLogger(__name__)

_STOP_EVENTS: dict[StopReason, ErrorEvent] = {
    "cancelled": ErrorEvent(code="cancelled", message="the answer was stopped"),
    "abandoned": ErrorEvent(
        code="abandoned", message="every client left, so the answer was stopped", retryable=True
    ),
    "shutting_down": ErrorEvent(
        code="shutting_down", message="the server is shutting down", retryable=True
    ),
}


def stop_event(reason: StopReason) -> ErrorEvent:
    """The terminal event of a stream stopped for ``reason``."""
    return _STOP_EVENTS[reason]


class Generation:
    """Pumps ``events`` into the log as stream ``stream_id`` until it ends or must stop.

    ``started`` resolves once the first event is in the log, or carries the exception that came
    before it (an invalid request, an unreachable model); such a failure is also written to the
    log as the stream's only event, so followers learn of it. ``on_done`` gets the JSON of every
    event when the answer completes (for the answer cache). ``forced_stop`` says when the
    process wants every generation ended.
    """

    def __init__(
        self,
        stream_id: str,
        events: AsyncGenerator[Event, None],
        *,
        log: EventLog,
        grace_s: float,
        on_done: Callable[[list[str]], Awaitable[None]] | None = None,
        forced_stop: Callable[[], StopReason | None] = lambda: None,
    ) -> None:
        self.stream_id = stream_id
        self.started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.started.add_done_callback(_consume_exception)
        self._events = events
        self._log = log
        self._grace_s = grace_s
        self._on_done = on_done
        self._forced_stop = forced_stop
        self._stop_asked: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def stop(self) -> None:
        """Stop this generation (a stop request made in this process): the watcher wakes now."""
        if not self._stop_asked.done():
            self._stop_asked.set_result(None)

    async def run(self) -> None:
        pump = asyncio.create_task(self._pump())
        try:
            reason = await self._watch(pump)
        finally:
            if not pump.done():
                pump.cancel()
            await asyncio.wait({pump})
        ending: ErrorEvent | None = None
        if reason is not None:
            ending = stop_event(reason)
        elif pump.cancelled():
            ending = stop_event("shutting_down")
        elif (exc := pump.exception()) is not None:
            if isinstance(exc, SearchQAError):
                ending = error_event(exc)
            else:
                log.error("answer %s failed", self.stream_id, exc_info=exc)
                ending = ErrorEvent(code="internal_error", message="an internal error occurred")
            if not self.started.done():
                self.started.set_exception(exc)
        if not self.started.done():
            self.started.set_exception(_StoppedBeforeStartError(reason or "shutting_down"))
        if ending is not None:
            await self._log.append(self.stream_id, ending.type, ending.to_json())
        await self._log.finish(self.stream_id)

    async def _pump(self) -> None:
        recorded: list[str] | None = [] if self._on_done is not None else None
        async with aclosing(self._events) as events:
            async for event in events:
                data = event.to_json()
                await self._log.append(self.stream_id, event.type, data)
                if not self.started.done():
                    self.started.set_result(None)
                if recorded is not None:
                    recorded.append(data)
                    if isinstance(event, DoneEvent) and self._on_done is not None:
                        await self._on_done(recorded)

    async def _watch(self, pump: asyncio.Task[None]) -> StopReason | None:
        """Wait for the pump; stop it on request, on shutdown, or ``grace_s`` after the
        last client left."""
        loop = asyncio.get_running_loop()
        last_seen = loop.time()
        interval = min(WATCH_INTERVAL_S, max(self._grace_s, 0.05))
        while True:
            await asyncio.wait(
                {pump, self._stop_asked}, timeout=interval, return_when=asyncio.FIRST_COMPLETED
            )
            if pump.done():
                return None
            if self._stop_asked.done():
                return "cancelled"
            forced = self._forced_stop()
            if forced is not None:
                return forced
            now = loop.time()
            try:
                if await self._log.stop_requested(self.stream_id):
                    return "cancelled"
                if await self._log.attached(self.stream_id) > 0:
                    last_seen = now
                elif now - last_seen >= self._grace_s:
                    return "abandoned"
            except SearchQAError as exc:
                # Without the shared state nobody can tell; keep generating.
                log.warning("cannot watch answer %s: %s", self.stream_id, exc)
                last_seen = now


class _StoppedBeforeStartError(SearchQAError):
    code = "shutting_down"
    retryable = True

    def __init__(self, reason: StopReason) -> None:
        super().__init__(stop_event(reason).message, code=reason)


def _consume_exception(future: asyncio.Future[None]) -> None:
    """Mark the exception seen: the opener may have left before it could read it."""
    if not future.cancelled():
        future.exception()
