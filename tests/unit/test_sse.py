"""SSE framing: the same payloads however the bytes are cut, line breaks only where SSE says."""

from __future__ import annotations

import itertools
import json

from hypothesis import given
from hypothesis import strategies as st

from searchqa.llm.sse import SSEDecoder

STREAM = (
    "\ufeff: keep-alive\r\n"
    'data: {"delta": "第一 [citation:1]"}\r\n\r\n'
    "event: message\n"
    'data: {"delta": "line\u2028separator and \x85 NEL stay inside"}\n\n'
    "id: 7\r"
    'data:{"no": "space"}\r\r'
    "data: first line\n"
    "data: second line\n\n"
    "data: [DONE]\n\n"
).encode()
PAYLOADS = [
    '{"delta": "第一 [citation:1]"}',
    '{"delta": "line\u2028separator and \x85 NEL stay inside"}',
    '{"no": "space"}',
    "first line\nsecond line",
    "[DONE]",
]


def decode_in_pieces(data: bytes, cuts: list[int]) -> list[str]:
    decoder = SSEDecoder()
    payloads: list[str] = []
    bounds = [0, *sorted(set(cuts)), len(data)]
    for start, end in itertools.pairwise(bounds):
        payloads += decoder.feed(data[start:end])
    return payloads + decoder.close()


@given(st.lists(st.integers(0, len(STREAM))))
def test_any_byte_chunking_gives_the_same_payloads(cuts: list[int]) -> None:
    assert decode_in_pieces(STREAM, cuts) == PAYLOADS


def test_byte_at_a_time() -> None:
    assert decode_in_pieces(STREAM, list(range(len(STREAM)))) == PAYLOADS


def test_model_text_with_unicode_line_separators_survives_json_round_trip() -> None:
    text = "a\u2028b\u2029c\x85d\x0be"
    event = f"data: {json.dumps({'content': text}, ensure_ascii=False)}\n\n".encode()
    [payload] = decode_in_pieces(event, [])
    assert json.loads(payload)["content"] == text


def test_unterminated_last_event_is_still_delivered() -> None:
    assert decode_in_pieces(b'data: {"a": 1}\n\ndata: {"b": 2}', []) == ['{"a": 1}', '{"b": 2}']
