"""The streaming reasoning/answer splitter: same split for any chunking, minimal hold-back."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from searchqa.llm.think import THINK_CLOSE, ThinkSplitter, split_think

PIECES = [
    "a",
    "Paris",
    " ",
    "\n",
    "<",
    "/",
    ">",
    "think",
    "</",
    "</thi",
    "<thin",
    THINK_CLOSE,
    "<think>",
    "[citation:1]",
    "é",
    "北京",
]
raw_outputs = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)


def feed_in_pieces(text: str, cuts: list[int]) -> tuple[str, str]:
    splitter = ThinkSplitter()
    reasoning, answer = "", ""
    bounds = [0, *sorted(set(cuts)), len(text)]
    for start, end in itertools.pairwise(bounds):
        more_reasoning, more_answer = splitter.feed(text[start:end])
        reasoning, answer = reasoning + more_reasoning, answer + more_answer
    rest_reasoning, rest_answer = splitter.flush()
    return reasoning + rest_reasoning, answer + rest_answer


@given(st.data(), raw_outputs)
def test_any_chunking_gives_the_same_split(data: st.DataObject, text: str) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(text)), max_size=len(text) + 1))
    assert feed_in_pieces(text, cuts) == split_think(text)


@given(raw_outputs)
def test_one_character_at_a_time_gives_the_same_split(text: str) -> None:
    assert feed_in_pieces(text, list(range(len(text)))) == split_think(text)


@given(st.data(), raw_outputs.filter(lambda text: not text.startswith("<")))
def test_holds_back_no_more_than_a_partial_close_tag(data: st.DataObject, text: str) -> None:
    cuts = sorted(set(data.draw(st.lists(st.integers(0, len(text))))))
    whole_reasoning, _ = split_think(text)
    closes = THINK_CLOSE in text
    splitter = ThinkSplitter()
    emitted = 0
    fed = 0
    for end in [*cuts, len(text)]:
        reasoning, answer = splitter.feed(text[fed:end])
        fed = end
        emitted += len(reasoning) + len(answer)
        past_tag = closes and fed >= len(whole_reasoning) + len(THINK_CLOSE)
        held = fed - emitted - (len(THINK_CLOSE) if past_tag else 0)
        assert held <= (0 if past_tag else len(THINK_CLOSE) - 1)
        if not past_tag and not any(text[:fed].endswith(THINK_CLOSE[:n]) for n in range(1, 8)):
            assert held == 0


@pytest.mark.parametrize(
    ("text", "reasoning", "answer"),
    [
        ("Let me think.\n</think>\n\nParis.", "Let me think.\n", "\n\nParis."),
        ("<think>\nLet me think.</think>Paris.", "\nLet me think.", "Paris."),
        ("I never finish thinking", "I never finish thinking", ""),
        ("</think>Paris.", "", "Paris."),
        ("a</think>b</think>c", "a", "b</think>c"),
        ("x <think> y</think>z", "x <think> y", "z"),
        ("ends with a partial tag </thi", "ends with a partial tag </thi", ""),
        ("<thi", "<thi", ""),
    ],
)
def test_splits_at_the_first_close_tag(text: str, reasoning: str, answer: str) -> None:
    assert split_think(text) == (reasoning, answer)


def test_streams_reasoning_before_the_tag_arrives() -> None:
    splitter = ThinkSplitter()
    assert splitter.feed("Considering the sources") == ("Considering the sources", "")
    assert splitter.feed(" now </th") == (" now ", "")
    assert splitter.feed("ink>\n\nParis") == ("", "\n\nParis")
    assert splitter.feed(" [citation:1]") == ("", " [citation:1]")
