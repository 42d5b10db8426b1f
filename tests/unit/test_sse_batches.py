"""Events that were waiting together go out in one write, byte for byte as one by one."""

from __future__ import annotations

from searchqa.api.sse import encode_event, encode_events
from searchqa.events import AnswerEvent, ReasoningEvent
from searchqa.state.protocols import LogEntry


def test_a_batch_is_the_concatenation_of_its_messages() -> None:
    entries = [
        LogEntry(4, "reasoning", ReasoningEvent(text="Gardens").to_json()),
        LogEntry(5, "answer", AnswerEvent(text="cool 北京\u2028 blocks").to_json()),
        LogEntry(6, "answer", AnswerEvent(text=" [1]").to_json()),
    ]
    batch = encode_events("abc", entries)
    assert batch == b"".join(encode_event("abc", entry) for entry in entries)
    assert batch.count(b"\n\n") == 3
    assert encode_events("abc", entries[:1]) == encode_event("abc", entries[0])
