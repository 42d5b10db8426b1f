"""One answer written into a Slack thread as it is generated.

Slack's streaming methods (``chat.startStream`` / ``appendStream`` / ``stopStream``) are used when
the workspace allows them; text is sent about once a second (slack_sdk's ``chat_stream`` helper
flushes only by size, so a slow model would leave words waiting). Where streaming is refused
(a channel type or plan without it) the answer is posted and then edited with ``chat.update``,
at most once a second; a stream Slack closed mid-answer (after about five minutes) is finished
the same way on its ``ts``. Messages are split at Slack's 12,000-character limit, code fences
closed and reopened across the split; the closing blocks (sources, notes, feedback) go under
the last one.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Literal

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from searchqa.slack.blocks import answer_metadata, markdown_blocks
from searchqa.slack.markdown import MAX_MESSAGE_CHARS, close_open_fence, split_point

FLUSH_INTERVAL_S = 1.0
MIN_SPLIT_ROOM = 200
"""With less room than this left in a message, the next text starts a new one."""
STREAM_REFUSED = frozenset(
    {
        "channel_type_not_supported",
        "feature_not_enabled",
        "method_not_supported_for_channel_type",
        "not_allowed_token_type",
        "team_not_allowed",
        "unknown_method",
    }
)
"""``chat.startStream`` errors that mean: this conversation takes no streams, post instead."""
STREAM_ENDED = "message_not_in_streaming_state"

log = logging.getLogger(__name__)
Mode = Literal["closed", "stream", "update"]


@dataclass(frozen=True)
class Thread:
    """Where an answer goes, and who asked (streams in channels name their recipient)."""

    channel: str
    thread_ts: str
    user: str
    team: str | None
    direct: bool
    """A direct message with the bot rather than a channel."""


class SlackReply:
    """The messages of one answer in ``thread``; call ``write`` with ready Markdown, then
    ``finish`` (or ``fail``)."""

    def __init__(
        self,
        client: AsyncWebClient,
        thread: Thread,
        *,
        question: str,
        flush_interval_s: float = FLUSH_INTERVAL_S,
        max_chars: int = MAX_MESSAGE_CHARS,
    ) -> None:
        self._client = client
        self._thread = thread
        self._question = question
        self._flush_interval_s = flush_interval_s
        self._max_chars = max_chars
        self.request_id = ""
        self._mode: Mode = "closed"
        self._can_stream = True
        self._ts: str | None = None
        self._sent = ""
        """What Slack has of the current message."""
        self._pending = ""
        self._part = 0
        self.posted: list[str] = []
        """The ``ts`` of every message of this answer."""
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._ticker: asyncio.Task[None] | None = None

    @property
    def started(self) -> bool:
        return bool(self.posted)

    async def write(self, markdown: str) -> None:
        """Add text; the first text opens the message at once, the rest follows each second."""
        if not markdown:
            return
        self._check_ticker()
        self._pending += markdown
        if not self.started:
            async with self._lock:
                await self._flush()
            self._ticker = asyncio.create_task(self._tick())
        else:
            self._wake.set()

    async def finish(self, blocks: list[dict[str, Any]], *, empty_text: str) -> None:
        """Send what is left and close the last message with ``blocks`` under it."""
        await self._stop_ticker()
        if not self.started and not self._pending:
            self._pending = empty_text
        async with self._lock:
            await self._flush(last=True)
            await self._close_message(blocks)

    async def fail(self, note: str) -> None:
        """End the answer with ``note`` (no sources, no feedback), keeping what was sent."""
        with suppress(Exception):
            await self._stop_ticker()
        self._pending += f"\n\n{note}" if self.started or self._pending else note
        async with self._lock:
            await self._flush(last=True)
            await self._close_message([])

    # -- sending ---------------------------------------------------------------------------

    async def _tick(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(self._flush_interval_s)
            self._wake.clear()
            async with self._lock:
                await self._flush()

    def _check_ticker(self) -> None:
        """Raise the ticker's failure (a Slack error) in the writer."""
        if self._ticker is not None and self._ticker.done() and not self._ticker.cancelled():
            error = self._ticker.exception()
            if error is not None:
                raise error

    async def _stop_ticker(self) -> None:
        if self._ticker is None:
            return
        async with self._lock:  # never cancel a send half-way (its text would be lost)
            self._ticker.cancel()
        with suppress(asyncio.CancelledError):
            await self._ticker
        self._ticker = None

    async def _flush(self, *, last: bool = False) -> None:
        """Send the pending text; with ``last``, an edited message takes it in its closing
        update rather than in one more edit just before."""
        text, self._pending = self._pending, ""
        while len(self._sent) + len(text) > self._max_chars:
            room = self._max_chars - len(self._sent)
            if room >= MIN_SPLIT_ROOM or self._mode == "closed":
                cut = split_point(text, room)
                head, rest = text[:cut], text[cut:]
            else:
                head, rest = "", text
            closed, reopen = close_open_fence(self._sent + head)
            await self._send(closed[len(self._sent) :])
            await self._close_message([])
            text = reopen + rest
        if last and self._mode == "update":
            self._sent += text
        else:
            await self._send(text)

    async def _send(self, text: str) -> None:
        if not text:
            return
        if self._mode == "closed":
            await self._open(text)
        elif self._mode == "stream":
            try:
                await self._client.chat_appendStream(
                    channel=self._thread.channel, ts=self._require_ts(), markdown_text=text
                )
            except SlackApiError as exc:
                if _error_of(exc) != STREAM_ENDED:
                    raise
                log.info("stream %s was closed by Slack; finishing with updates", self._ts)
                self._mode = "update"
                await self._update(self._sent + text)
        else:
            await self._update(self._sent + text)
        self._sent += text

    async def _open(self, text: str) -> None:
        self._part += 1
        self._sent = ""
        thread = self._thread
        if self._can_stream:
            in_channel = not thread.direct
            try:
                response = await self._client.chat_startStream(
                    channel=thread.channel,
                    thread_ts=thread.thread_ts,
                    markdown_text=text,
                    recipient_user_id=thread.user if in_channel else None,
                    recipient_team_id=thread.team if in_channel else None,
                )
                self._mode, self._ts = "stream", str(response["ts"])
                self.posted.append(self._ts)
                return
            except SlackApiError as exc:
                if _error_of(exc) not in STREAM_REFUSED:
                    raise
                log.info("streaming refused here (%s); posting and updating", _error_of(exc))
                self._can_stream = False
        response = await self._client.chat_postMessage(
            channel=thread.channel,
            thread_ts=thread.thread_ts,
            text=_fallback_text(text),
            blocks=markdown_blocks(text),
            metadata=self._metadata(),
            unfurl_links=False,
            unfurl_media=False,
        )
        self._mode, self._ts = "update", str(response["ts"])
        self.posted.append(self._ts)

    async def _update(self, markdown: str, extra: list[dict[str, Any]] | None = None) -> None:
        await self._client.chat_update(
            channel=self._thread.channel,
            ts=self._require_ts(),
            text=_fallback_text(markdown),
            blocks=markdown_blocks(markdown) + (extra or []),
            metadata=self._metadata(),
        )

    async def _close_message(self, blocks: list[dict[str, Any]]) -> None:
        if self._mode == "stream":
            try:
                await self._client.chat_stopStream(
                    channel=self._thread.channel,
                    ts=self._require_ts(),
                    blocks=blocks or None,
                    metadata=self._metadata(),
                )
            except SlackApiError as exc:
                if _error_of(exc) != STREAM_ENDED:
                    raise
                await self._update(self._sent, blocks)
        elif self._mode == "update" and (blocks or self._sent):
            await self._update(self._sent, blocks)
        self._mode, self._ts, self._sent = "closed", None, ""

    def _metadata(self) -> dict[str, Any]:
        return answer_metadata(self._question, self.request_id, self._part)

    def _require_ts(self) -> str:
        assert self._ts is not None, "no message is open"
        return self._ts


def _error_of(exc: SlackApiError) -> str:
    error = exc.response.get("error") if exc.response is not None else None
    return str(error or "")


def _fallback_text(markdown: str) -> str:
    """The ``text`` of a posted message (notifications, and history when read back)."""
    return markdown.strip() or "…"
