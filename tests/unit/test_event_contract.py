"""The event grammar is written once (``EVENT_ORDER``); the docs and the API state that one."""

from __future__ import annotations

from pathlib import Path

from searchqa.api.answer_routes import STREAM_DESCRIPTION
from searchqa.api.openapi import DESCRIPTION
from searchqa.api.sse import encode_event
from searchqa.events import EVENT_ORDER, StatusEvent
from searchqa.state import LogEntry

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_and_the_api_state_the_one_grammar() -> None:
    assert f"`{EVENT_ORDER}`" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"`{EVENT_ORDER}`" in DESCRIPTION
    assert f"`{EVENT_ORDER}`" in STREAM_DESCRIPTION


def test_sse_names_the_event_by_its_stored_type() -> None:
    event = StatusEvent(stage="fetch", done=2, total=5)
    message = encode_event("abc", LogEntry(7, event.type, event.to_json()))
    assert message == (
        b'event: status\nid: abc-7\ndata: {"type":"status","stage":"fetch","done":2,"total":5}\n\n'
    )
