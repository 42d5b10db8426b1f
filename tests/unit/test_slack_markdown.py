"""The answer as Slack Markdown: links, escapes, splits, and reading it back."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from searchqa.events import CitationEvent, Source, StatusEvent
from searchqa.slack.blocks import closing_blocks, parse_feedback, sources_block
from searchqa.slack.conversation import question_text
from searchqa.slack.markdown import (
    CitedAnswer,
    close_open_fence,
    escape_text,
    plain_answer,
    split_point,
)
from searchqa.slack.status import status_text

URL = "https://example.com/a"


def cite(index: int, offset: int, url: str = URL) -> CitationEvent:
    return CitationEvent(index=index, url=url, title="A", offset=offset)


def test_a_marker_becomes_a_link_once_its_citation_arrives() -> None:
    answer = CitedAnswer()
    # The answer flow sends a marker whole, then its citation event.
    assert answer.add_text("Paris is the capital [1] of France") == "Paris is the capital "
    assert answer.add_citation(cite(1, 21)) == f"[[1]]({URL}) of France"
    assert answer.add_text(" and more [2]") == " and more "
    assert answer.add_text(".") == "[2]."  # no citation came: not a source, left as written


def test_a_bracketed_number_that_is_no_citation_is_released_unlinked() -> None:
    answer = CitedAnswer()
    assert answer.add_text("x = a[0]") == "x = a"
    assert answer.add_text(" + 1") == "[0] + 1"
    assert answer.add_text(" [link](u)") == " "
    assert answer.finish() == "[link](u)"


def test_model_text_cannot_ping_a_channel_or_a_person() -> None:
    answer = CitedAnswer()
    text = "Hey <!channel> and <@U123> see <https://evil|here> & co"
    out = answer.add_text(text) + answer.finish()
    assert "<" not in out
    assert out == "Hey &lt;!channel> and &lt;@U123> see &lt;https://evil|here> &amp; co"
    assert plain_answer(out) == text


def test_urls_cannot_close_the_link_early() -> None:
    answer = CitedAnswer()
    out = answer.add_text("See [1]")
    out += answer.add_citation(cite(1, 4, "https://example.com/a_(b) c")) + answer.finish()
    assert out == "See [[1]](https://example.com/a_%28b%29%20c)"


@given(st.lists(st.text(alphabet="ab [1]2<&\n", max_size=8), max_size=12))
def test_streamed_pieces_add_up_to_the_whole(pieces: list[str]) -> None:
    streamed = CitedAnswer()
    out = "".join(streamed.add_text(piece) for piece in pieces) + streamed.finish()
    assert out == escape_text("".join(pieces))


def test_history_reads_back_the_answer_the_model_wrote() -> None:
    answer = CitedAnswer()
    out = answer.add_text("A [1] & B [2].")
    out += answer.add_citation(cite(1, 2))
    out += answer.add_citation(cite(2, 10, "https://example.org/x"))
    out += answer.finish()
    assert out == f"A [[1]]({URL}) &amp; B [[2]](https://example.org/x)."
    assert plain_answer(out) == "A [1] & B [2]."


def test_splits_fall_on_paragraphs_then_lines_then_spaces() -> None:
    text = "a" * 50 + "\n\n" + "b" * 30 + "\n" + "c" * 30
    assert split_point(text, 100) == 52
    assert split_point("x" * 60 + "\n" + "y" * 60, 100) == 61
    assert split_point("x" * 60 + " " + "y" * 60, 100) == 61
    assert split_point("z" * 150, 100) == 100


def test_an_open_code_fence_is_closed_and_reopened() -> None:
    assert close_open_fence("text\n```py\nx = 1\n") == ("text\n```py\nx = 1\n```\n", "```\n")
    assert close_open_fence("```\nx\n```\n") == ("```\nx\n```\n", "")


def test_a_question_loses_its_mentions_and_slack_syntax() -> None:
    text = "<@UBOT>  what is <https://redis.io|Redis> &amp; <http://x.org>?"
    assert question_text(text) == "what is Redis & http://x.org?"


def test_only_cited_sources_are_listed_in_citation_order() -> None:
    sources = [
        Source(index=i, url=f"https://s{i}.example/", title=f"T{i}", site=f"s{i}", snippet="")
        for i in (1, 2, 3)
    ]
    block = sources_block(sources, cited=[3, 1, 3])
    assert block is not None
    texts = [element["text"] for element in block.to_dict()["elements"]]
    assert texts == ["*[1]* <https://s1.example/|T1> · s1", "*[3]* <https://s3.example/|T3> · s3"]
    assert sources_block(sources, cited=[]) is None


def test_an_answer_without_sources_says_so() -> None:
    blocks = closing_blocks([], [], ["no_sources"], "rid")
    assert [b["type"] for b in blocks] == ["context", "context_actions"]
    assert "No web sources" in blocks[0]["elements"][0]["text"]


def test_feedback_values_carry_rating_and_answer_id() -> None:
    assert parse_feedback("good:abc") == ("good", "abc")
    assert parse_feedback("meh:abc") is None
    assert parse_feedback("bad:") is None


def test_the_status_line_names_the_query_searched() -> None:
    assert status_text(StatusEvent(stage="search", query="redis creator")) == (
        "is searching the web for “redis creator”…"
    )
    long = status_text(StatusEvent(stage="search", query="x" * 100))
    assert long == "is searching the web for “" + "x" * 59 + "…”…"
    assert status_text(StatusEvent(stage="fetch", done=0, total=8)) == "is reading 8 pages…"
