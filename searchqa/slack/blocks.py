"""The blocks under a finished answer: cited sources, notes, feedback buttons."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ContextActionsBlock,
    ContextBlock,
    FeedbackButtonObject,
    FeedbackButtonsElement,
    MarkdownBlock,
    MarkdownTextObject,
)

from searchqa.events import Source
from searchqa.slack.markdown import escape_label, safe_url

MAX_SOURCES = 10
"""A context block holds at most ten elements."""
FEEDBACK_ACTION = "searchqa_feedback"
MAX_TITLE_CHARS = 120
ANSWER_EVENT_TYPE = "searchqa_answer"
"""The ``event_type`` of the metadata on every answer message (history reads it back)."""
FLAG_NOTES = {
    "no_sources": "No web sources were found; this answer comes from the model alone.",
    "snippets_only": "The pages could not be read; the sources are search snippets only.",
}


def source_line(source: Source) -> str:
    title = source.title.strip() or source.site or source.url
    if len(title) > MAX_TITLE_CHARS:
        title = title[: MAX_TITLE_CHARS - 1] + "…"
    line = f"*[{source.index}]* <{safe_url(source.url)}|{escape_label(title)}>"
    if source.site:
        line += f" · {escape_label(source.site)}"
    return line


def sources_block(sources: list[Source], cited: list[int]) -> ContextBlock | None:
    """The sources the answer cited, in citation-number order; None when it cited none."""
    by_index = {source.index: source for source in sources}
    chosen = [by_index[i] for i in sorted(set(cited)) if i in by_index][:MAX_SOURCES]
    if not chosen:
        return None
    return ContextBlock(elements=[MarkdownTextObject(text=source_line(s)) for s in chosen])


def notes_block(flags: list[str]) -> ContextBlock | None:
    notes = [FLAG_NOTES[flag] for flag in flags if flag in FLAG_NOTES]
    if not notes:
        return None
    return ContextBlock(elements=[MarkdownTextObject(text=f"_{note}_") for note in notes])


def feedback_block(request_id: str) -> ContextActionsBlock:
    """Thumbs up and down; the value carries the answer's request id."""
    return ContextActionsBlock(
        elements=[
            FeedbackButtonsElement(
                action_id=FEEDBACK_ACTION,
                positive_button=FeedbackButtonObject(
                    text="Good answer",
                    accessibility_label="Mark this answer as good",
                    value=f"good:{request_id}",
                ),
                negative_button=FeedbackButtonObject(
                    text="Bad answer",
                    accessibility_label="Mark this answer as bad",
                    value=f"bad:{request_id}",
                ),
            )
        ]
    )


def closing_blocks(
    sources: list[Source], cited: list[int], flags: list[str], request_id: str
) -> list[dict[str, Any]]:
    """What goes under the answer's last message."""
    blocks = [
        sources_block(sources, cited),
        notes_block(flags),
        feedback_block(request_id),
    ]
    return [block.to_dict() for block in blocks if block is not None]


def markdown_blocks(text: str) -> list[dict[str, Any]]:
    """A posted (not streamed) message's body."""
    return [MarkdownBlock(text=text).to_dict()]


def answer_metadata(question: str, request_id: str, part: int) -> dict[str, Any]:
    """Metadata on each message of an answer: history is rebuilt from it."""
    return {
        "event_type": ANSWER_EVENT_TYPE,
        "event_payload": {"question": question, "request_id": request_id, "part": part},
    }


def parse_feedback(value: str) -> tuple[str, str] | None:
    """(rating, request_id) from a feedback button's value."""
    rating, _, request_id = value.partition(":")
    if rating not in ("good", "bad") or not request_id:
        return None
    return rating, request_id
