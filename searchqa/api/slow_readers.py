"""Drop event-stream clients that stop reading, so nothing piles up for them.

The answer's event log is the only buffer: a reader takes events from it as fast as it accepts
them, and the server's socket holds at most its write buffer's worth. A client that stops
reading (a stalled tab, a proxy that never drains) would otherwise hold that buffer, its
reader and its attachment to the answer for as long as its connection lives. ``SlowReaderGuard``
bounds each event-stream write to ``slow_reader_s``: past it, the route sees the client as gone
(its reader detaches, the generation's grace period starts) and the connection is closed. The
client resumes with ``Last-Event-ID`` when it is ready.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from litestar.enums import ScopeType
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from searchqa.api.sse import SSE_MEDIA_TYPE

log = logging.getLogger(__name__)


def _is_event_stream(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name.lower() == b"content-type":
            return value.startswith(SSE_MEDIA_TYPE.encode())
    return False


class _SendWatch:
    """Times the event-stream write in progress with one timer per connection, re-armed only
    when it fires (a timeout per write would cost a timer per event)."""

    def __init__(self, limit_s: float) -> None:
        self._limit_s = limit_s
        self._loop = asyncio.get_running_loop()
        self._since: float | None = None
        self._task: asyncio.Task[object] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.fired = False

    async def send(self, send: Send, message: Message) -> None:
        """``send(message)``; a write still pending after the limit is cut off, ``fired`` set."""
        self._since = self._loop.time()
        self._task = asyncio.current_task()
        if self._timer is None:
            self._timer = self._loop.call_at(self._since + self._limit_s, self._check)
        try:
            await send(message)
        except asyncio.CancelledError:
            if not self.fired or self._task is None or self._task.uncancel() > 0:
                raise  # a cancellation of our own is spent; anyone else's goes on
        finally:
            self._since = None

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _check(self) -> None:
        since, now = self._since, self._loop.time()
        if since is None:
            self._timer = None  # idle: the next write arms it again
            return
        if now - since < self._limit_s:
            self._timer = self._loop.call_at(since + self._limit_s, self._check)
            return
        self._timer = None
        self.fired = True
        if self._task is not None:
            self._task.cancel()


class SlowReaderGuard:
    """ASGI middleware: an event-stream write that takes longer than ``slow_reader_s`` ends
    the response as if the client had disconnected."""

    def __init__(self, app: ASGIApp, slow_reader_s: float) -> None:
        self._app = app
        self._slow_reader_s = slow_reader_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self._app(scope, receive, send)
            return
        watch: _SendWatch | None = None
        dropped = asyncio.Event()

        async def guarded_send(message: Message) -> None:
            nonlocal watch
            if message["type"] == "http.response.start" and _is_event_stream(
                message.get("headers", ())
            ):
                watch = _SendWatch(self._slow_reader_s)
            if watch is None or message["type"] != "http.response.body":
                await send(message)
                return
            if dropped.is_set():
                return
            await watch.send(send, message)
            if watch.fired and not dropped.is_set():
                log.warning(
                    "dropped an event-stream client that took more than %g s to accept an "
                    "event (it can resume with Last-Event-ID)",
                    self._slow_reader_s,
                )
                dropped.set()

        async def guarded_receive() -> ReceiveMessage:
            if dropped.is_set():
                return {"type": "http.disconnect"}
            waiter = asyncio.ensure_future(receive())
            dropping = asyncio.ensure_future(dropped.wait())
            try:
                await asyncio.wait({waiter, dropping}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                dropping.cancel()
            if waiter.done():
                return waiter.result()
            waiter.cancel()
            return {"type": "http.disconnect"}

        try:
            await self._app(scope, guarded_receive, guarded_send)
        finally:
            if watch is not None:
                watch.close()


def drop_slow_readers(slow_reader_s: float) -> DefineMiddleware:
    """The middleware for Litestar's ``middleware`` list."""
    return DefineMiddleware(SlowReaderGuard, slow_reader_s=slow_reader_s)
