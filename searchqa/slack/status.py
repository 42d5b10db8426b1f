"""The thread's "is thinking..." line: ``assistant.threads.setStatus``, kept fresh.

Slack clears a status after two minutes, and R1 can think for longer, so the current status is
sent again every ``refresh_s``. The status is a courtesy: where Slack refuses it (a conversation
that is not an assistant thread, a missing scope) the answer goes on without it.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from searchqa.events import StatusEvent

QUERY_CHARS = 60
"""A search query longer than this is cut in the status line."""
REFRESH_S = 90.0
"""Well inside Slack's two-minute expiry."""
log = logging.getLogger(__name__)


def status_text(event: StatusEvent) -> str:
    """What the thread shows for a pipeline stage."""
    match event.stage:
        case "search":
            if event.query:
                query = (
                    event.query
                    if len(event.query) <= QUERY_CHARS
                    else event.query[: QUERY_CHARS - 1] + "…"
                )
                return f"is searching the web for “{query}”…"
            return "is searching the web…"
        case "fetch":
            return f"is reading {event.total} pages…" if event.total else "is reading pages…"
        case "read":
            return "is reading the pages…"
        case "think":
            return "is thinking…"
        case "answer":
            return "is writing…"


class ThreadStatus:
    """The status line of one thread."""

    def __init__(
        self, client: AsyncWebClient, channel: str, thread_ts: str, *, refresh_s: float = REFRESH_S
    ) -> None:
        self._client = client
        self._channel = channel
        self._thread_ts = thread_ts
        self._refresh_s = refresh_s
        self._current = ""
        self._refresher: asyncio.Task[None] | None = None
        self._refused = False

    async def show(self, text: str) -> None:
        if text == self._current or self._refused:
            return
        self._current = text
        await self._send(text)
        if self._refresher is None:
            self._refresher = asyncio.create_task(self._refresh())

    async def clear(self) -> None:
        """Stop refreshing; clear the line if one is shown (a posted reply clears it too)."""
        if self._refresher is not None:
            self._refresher.cancel()
            with suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None
        if self._current and not self._refused:
            self._current = ""
            await self._send("")

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_s)
            if self._current:
                await self._send(self._current)

    async def _send(self, text: str) -> None:
        try:
            await self._client.assistant_threads_setStatus(
                channel_id=self._channel, thread_ts=self._thread_ts, status=text
            )
        except SlackApiError as exc:
            self._refused = True
            log.info("no status line in %s: %s", self._channel, exc.response.get("error"))
