"""The streaming citation parser: ``[citation:X]`` in, ``[n]`` text and ``citation`` events out."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from searchqa.events import AnswerEvent, CitationEvent, Source
from searchqa.steps.cite import MAX_MARKER_CHARS, CitationParser

VALID = (1, 2, 3, 5, 12)
INVALID = (0, 4, 9, 99, 123456)
SOURCES = [
    Source(
        index=index,
        url=f"https://example.org/{index}",
        title=f"Page {index}",
        site="example.org",
        snippet="",
    )
    for index in VALID
]
OPENERS = "[【［"


# An independent reference: the marker grammar as one regular expression, applied to the whole text.
SPACES = " \t\u00a0\u3000"
CLOSING_PUNCTUATION = ".,;:!?)。，；：！？）"
_SPACE = "[ \t\u00a0\u3000]*"
_NUMBER = "[0-9０-９]+"
_MARKER = re.compile(
    f"[\\[【［]{_SPACE}[cC][iI][tT][aA][tT][iI][oO][nN]{_SPACE}[:：]{_SPACE}"
    f"({_NUMBER}(?:{_SPACE}[,，;；、]{_SPACE}{_NUMBER})*){_SPACE}[\\]】］]"
)


@dataclass
class Expected:
    answer: str = ""
    citations: list[tuple[int, int]] = field(default_factory=list)  # (index, offset)
    cited: list[int] = field(default_factory=list)


def reference(text: str) -> Expected:
    """What the whole text must become, computed without the parser."""
    expected = Expected()
    run: set[int] | None = None
    held = ""  # spaces before a dropped marker: gone if punctuation follows
    plain_from = position = 0

    def add_plain(plain: str) -> None:
        nonlocal held
        if plain:
            expected.answer += ("" if plain[0] in CLOSING_PUNCTUATION else held) + plain
            held = ""

    while position < len(text):
        match = _MARKER.match(text, position) if text[position] in OPENERS else None
        if match is None or match.end() - position > MAX_MARKER_CHARS:
            position += 1
            continue
        before = text[plain_from:position]
        if before:
            run = None
        body = before.rstrip(SPACES)
        add_plain(body)
        held += before[len(body) :]
        run = run if run is not None else set()
        for number in (int(part) for part in re.findall(_NUMBER, match.group(1))):
            if number in VALID and number not in run:
                run.add(number)
                expected.answer += held
                held = ""
                expected.citations.append((number, len(expected.answer)))
                expected.answer += f"[{number}]"
                if number not in expected.cited:
                    expected.cited.append(number)
        position = plain_from = match.end()
    add_plain(text[plain_from:])
    expected.answer += held
    return expected


Events = list[AnswerEvent | CitationEvent]


def stream(chunks: Iterable[str]) -> tuple[CitationParser, Events]:
    parser = CitationParser(SOURCES)
    events: Events = []
    for chunk in chunks:
        events += parser.feed(chunk)
    events += parser.flush()
    return parser, events


def answer_text(events: Events) -> str:
    return "".join(event.text for event in events if isinstance(event, AnswerEvent))


def citations(events: Events) -> list[tuple[int, int]]:
    return [(event.index, event.offset) for event in events if isinstance(event, CitationEvent)]


def assert_matches_reference(text: str, chunks: Sequence[str]) -> None:
    parser, events = stream(chunks)
    expected = reference(text)
    assert answer_text(events) == parser.answer == expected.answer
    assert citations(events) == expected.citations
    assert parser.cited == expected.cited
    assert not any(isinstance(event, AnswerEvent) and not event.text for event in events)
    for previous, event in itertools.pairwise(events):
        if isinstance(event, CitationEvent):
            # The answer text holding "[n]" comes first, then its citation event.
            assert isinstance(previous, AnswerEvent)
            assert previous.text.endswith(f"[{event.index}]")
            assert parser.answer[event.offset :].startswith(f"[{event.index}]")
            assert (event.url, event.title) == (
                f"https://example.org/{event.index}",
                f"Page {event.index}",
            )


def whole(text: str) -> tuple[str, list[tuple[int, int]], list[int]]:
    parser, events = stream([text])
    return answer_text(events), citations(events), parser.cited


# --- examples a reader of the answer sees --------------------------------------------------


def test_list_marker_becomes_one_citation_per_source() -> None:
    parser, events = stream(["Paris is the capital[citation:3, 5]."])
    assert events == [
        AnswerEvent(text="Paris is the capital[3]"),
        CitationEvent(index=3, url="https://example.org/3", title="Page 3", offset=20),
        AnswerEvent(text="[5]"),
        CitationEvent(index=5, url="https://example.org/5", title="Page 5", offset=23),
        AnswerEvent(text="."),
    ]
    assert parser.answer == "Paris is the capital[3][5]."
    assert parser.cited == [3, 5]


@pytest.mark.parametrize(
    ("raw", "answer"),
    [
        ("A[citation:3]", "A[3]"),
        ("A[citation: 3]", "A[3]"),
        ("A[ citation : 3 ]", "A[3]"),
        ("A[Citation:3]", "A[3]"),
        ("A[CITATION:3]", "A[3]"),
        ("A[citation:3,5]", "A[3][5]"),
        ("A[citation:3, 5]", "A[3][5]"),
        ("A[citation:3，5]", "A[3][5]"),
        ("A[citation:3; 5]", "A[3][5]"),
        ("A[citation:3、5]", "A[3][5]"),
        ("A【citation:3】", "A[3]"),
        ("A【citation：3】", "A[3]"),
        ("A［citation:3］", "A[3]"),
        ("A[citation:３]", "A[3]"),
        ("A[citation:3][citation:5]", "A[3][5]"),
        ("A[citation:5][citation:3]", "A[5][3]"),
    ],
)
def test_marker_variants_are_normalised(raw: str, answer: str) -> None:
    assert whole(raw)[0] == answer


def test_duplicates_within_a_marker_or_a_run_are_cited_once() -> None:
    text, cites, cited = whole(
        "A[citation:3, 3, 5] B[citation:5][citation:5][citation:3] C[citation:5]"
    )
    assert text == "A[3][5] B[5][3] C[5]"
    assert cites == [(3, 1), (5, 4), (5, 9), (3, 12), (5, 17)]
    assert cited == [3, 5]


def test_a_dropped_marker_leaves_no_space_before_punctuation() -> None:
    assert whole("a bad one [citation:42].")[0] == "a bad one."
    assert whole("a bad one [citation:42] and on.")[0] == "a bad one  and on."
    assert whole("a good one [citation:3].")[0] == "a good one [3]."


def test_markers_naming_no_source_are_removed_without_a_trace() -> None:
    text, cites, cited = whole("Paris[citation:9] is big[citation:9, 3][citation:0].")
    assert text == "Paris is big[3]."
    assert cites == [(3, 12)]
    assert cited == [3]


@pytest.mark.parametrize(
    "raw",
    [
        "as shown in [3] and [12]",  # the model's own bracketed numbers: text, not citations
        "this is disputed [citation needed]",
        "see [the docs](https://example.org/3)",
        "[citation:] [citation:x] [citation 3] [citation:3-5] [cit:3]",
        "array[i][j] = 【重要】",
        "an unfinished marker [citation:3",
        "an unfinished marker [citation:",
        "[",
    ],
)
def test_text_that_only_looks_like_a_marker_passes_through(raw: str) -> None:
    assert whole(raw) == (raw, [], [])


def test_offsets_count_code_points() -> None:
    text, cites, _ = whole("😀 北京[citation:2]")
    assert text == "😀 北京[2]"
    assert cites == [(2, 4)]


def test_a_marker_split_across_chunks_still_becomes_a_citation() -> None:
    parser, events = stream(["Tokyo[cita", "tion: 1", "2", "]", " rocks"])
    assert parser.answer == "Tokyo[12] rocks"
    assert citations(events) == [(12, 5)]


def test_plain_text_is_emitted_at_once() -> None:
    parser = CitationParser(SOURCES)
    assert parser.feed("Hello, world. ") == [AnswerEvent(text="Hello, world. ")]
    assert parser.feed("Next [3] (a]") == [AnswerEvent(text="Next [3] (a]")]


def test_a_stray_bracket_holds_back_at_most_one_candidate() -> None:
    parser = CitationParser(SOURCES)
    assert parser.feed("Look [") == [AnswerEvent(text="Look")]
    assert parser.feed("cit") == []
    assert parser.feed("ation:3 and then a long tail") == [
        AnswerEvent(text=" [citation:3 and then a long tail")
    ]
    assert parser.feed("[ " + " " * (MAX_MARKER_CHARS - 2)) == [
        AnswerEvent(text="[ " + " " * (MAX_MARKER_CHARS - 2))
    ]


def test_a_marker_longer_than_the_candidate_bound_stays_text() -> None:
    raw = "[citation:" + ", ".join(["3"] * 30) + "]"
    assert len(raw) > MAX_MARKER_CHARS
    assert whole(raw) == (raw, [], [])


# --- chunking never changes the result -------------------------------------------------------

FIXED_EXAMPLES = [
    "R1 says[citation:3, 5] hi【citation:12】[ Citation : 2 ].",
    "x[citation:3][citation:9][citation:3]y [3] [citation needed] [citation:1",
    "中文回答［citation：1，2］。😀[citation:４; 5、99]end",
]


@pytest.mark.parametrize("text", FIXED_EXAMPLES)
def test_every_split_point_gives_the_same_result(text: str) -> None:
    assert_matches_reference(text, [text])
    assert_matches_reference(text, list(text))
    for cut in range(len(text) + 1):
        assert_matches_reference(text, [text[:cut], text[cut:]])


def test_every_pair_of_split_points_gives_the_same_result() -> None:
    text = FIXED_EXAMPLES[0]
    expected = whole(text)
    for first in range(len(text) + 1):
        for second in range(first, len(text) + 1):
            parser, events = stream([text[:first], text[first:second], text[second:]])
            assert (answer_text(events), citations(events), parser.cited) == expected


_spaces = st.text(alphabet=" \u3000", max_size=2)


@st.composite
def markers(draw: st.DrawFn) -> str:
    keyword = "".join(char.upper() if draw(st.booleans()) else char for char in "citation")
    numbers = draw(st.lists(st.sampled_from(VALID + INVALID), min_size=1, max_size=4))
    separators = [
        draw(_spaces) + draw(st.sampled_from(",，;；、")) + draw(_spaces) for _ in numbers[1:]
    ]
    listed = str(numbers[0]) + "".join(
        separator + str(number) for separator, number in zip(separators, numbers[1:], strict=True)
    )
    return (
        draw(st.sampled_from(OPENERS))
        + draw(_spaces)
        + keyword
        + draw(_spaces)
        + draw(st.sampled_from(":："))
        + draw(_spaces)
        + listed
        + draw(_spaces)
        + draw(st.sampled_from("]】］"))
    )


# Plain text rich in near-misses: brackets, the keyword, colons, digits, astral characters.
_prose = st.lists(
    st.sampled_from([*"ab 3,:：[]【】［］\n中文😀", "citation", "Cit", "[citation:"]), max_size=8
).map("".join)
model_outputs = st.lists(st.one_of(markers(), _prose), max_size=12).map("".join)


@st.composite
def chunkings(draw: st.DrawFn) -> tuple[str, list[str]]:
    text = draw(model_outputs)
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=12)))
    bounds = [0, *cuts, len(text)]
    return text, [text[start:end] for start, end in itertools.pairwise(bounds)]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunkings())
def test_random_chunking_matches_whole_text_and_reference(case: tuple[str, list[str]]) -> None:
    text, chunks = case
    assert_matches_reference(text, chunks)
    parser, events = stream(chunks)
    assert (answer_text(events), citations(events), parser.cited) == whole(text)


def _could_become_marker(tail: str) -> bool:
    completions = ["citation:1]"[start:] for start in range(len("citation:1]") + 1)]
    return any(_MARKER.fullmatch(tail + completion) for completion in completions)


def _may_be_held(tail: str) -> bool:
    """Spaces and markers naming no source (waiting for what follows), then at most one
    unfinished candidate."""
    rest = tail
    while True:
        rest = rest.lstrip(SPACES)
        match = _MARKER.match(rest)
        if match is None:
            break
        rest = rest[match.end() :]
    return not rest or (len(rest) < MAX_MARKER_CHARS and _could_become_marker(rest))


@settings(max_examples=200, deadline=None)
@given(chunkings())
def test_only_an_unfinished_marker_is_held_back(case: tuple[str, list[str]]) -> None:
    _, chunks = case
    parser = CitationParser(SOURCES)
    fed = ""
    for chunk in chunks:
        parser.feed(chunk)
        fed += chunk
        emitted_up_to = next(
            (
                cut
                for cut in range(len(fed), -1, -1)
                if reference(fed[:cut]).answer == parser.answer
            ),
            None,
        )
        assert emitted_up_to is not None, "the answer so far is no prefix of the stream"
        held = len(fed) - emitted_up_to
        if held:
            tail = fed[-held:]
            assert _may_be_held(tail), tail
