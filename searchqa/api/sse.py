"""Server-sent events: the wire form of the event stream and of resume positions.

Each event is ``event: <type>``, ``id: <request_id>-<seq>``, ``data: <the event's JSON>``; an
idle stream gets a comment line now and then so proxies and browsers keep it open.
"""

from __future__ import annotations

from dataclasses import dataclass

from searchqa.state.protocols import LogEntry

SSE_MEDIA_TYPE = "text/event-stream"
SSE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}
KEEPALIVE = b": keep-alive\n\n"


@dataclass(frozen=True, slots=True)
class StreamPosition:
    """Where a client stopped reading: the stream and the last seq it got."""

    stream_id: str
    seq: int


def _message(stream_id: str, entry: LogEntry) -> str:
    return f"event: {entry.type}\nid: {stream_id}-{entry.seq}\ndata: {entry.data}\n\n"


def encode_event(stream_id: str, entry: LogEntry) -> bytes:
    """One SSE message; the event's JSON is compact, so it never spans lines."""
    return _message(stream_id, entry).encode()


def encode_events(stream_id: str, entries: list[LogEntry]) -> bytes:
    """Several SSE messages in one write (events that were waiting together)."""
    return "".join(_message(stream_id, entry) for entry in entries).encode()


def format_event_id(stream_id: str, seq: int) -> str:
    return f"{stream_id}-{seq}"


def parse_event_id(value: str | None) -> StreamPosition | None:
    """The position in a ``Last-Event-ID`` header; None when absent or not ours."""
    if not value:
        return None
    stream_id, dash, seq = value.strip().rpartition("-")
    if not dash or not stream_id or not seq.isdigit():
        return None
    return StreamPosition(stream_id, int(seq))
