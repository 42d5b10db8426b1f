"""What a Slack message asks, and the thread's earlier questions and answers."""

from __future__ import annotations

import re
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from searchqa.protocols import Turn
from searchqa.service.requests import MAX_HISTORY_TURNS
from searchqa.slack.blocks import ANSWER_EVENT_TYPE
from searchqa.slack.markdown import plain_answer

_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>")
REPLIES_PAGE = 200


def question_text(text: str) -> str:
    """The question in a message: mentions removed, Slack's link and entity syntax undone."""
    text = _MENTION.sub(" ", text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split())


async def thread_history(
    client: AsyncWebClient, channel: str, thread_ts: str, *, before_ts: str
) -> list[Turn]:
    """The thread's answered questions before ``before_ts``, oldest first, as turns.

    Answers are found by the metadata every answer message carries (question, request id,
    part), so a split answer is joined again and other messages in the thread are ignored.
    """
    answers: dict[str, tuple[str, list[tuple[int, str]]]] = {}
    order: list[str] = []
    cursor: str | None = None
    while True:
        response = await client.conversations_replies(
            channel=channel,
            ts=thread_ts,
            include_all_metadata=True,
            limit=REPLIES_PAGE,
            cursor=cursor,
        )
        for message in response.get("messages") or []:
            if _ts_key(message.get("ts", "")) >= _ts_key(before_ts):
                continue
            payload = _answer_payload(message)
            if payload is None:
                continue
            request_id = str(payload.get("request_id", ""))
            if request_id not in answers:
                answers[request_id] = (str(payload.get("question", "")), [])
                order.append(request_id)
            part = int(payload.get("part", 1))
            answers[request_id][1].append((part, plain_answer(_markdown_of(message))))
        cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            break
    turns: list[Turn] = []
    for request_id in order:
        question, parts = answers[request_id]
        answer = "".join(text for _, text in sorted(parts)).strip()
        if question and answer:
            turns += [Turn("user", question), Turn("assistant", answer)]
    return turns[-MAX_HISTORY_TURNS:]


def _answer_payload(message: dict[str, Any]) -> dict[str, Any] | None:
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != ANSWER_EVENT_TYPE:
        return None
    payload = metadata.get("event_payload")
    return payload if isinstance(payload, dict) else None


def _markdown_of(message: dict[str, Any]) -> str:
    """A message's Markdown: its markdown blocks when posted with them, else its text."""
    blocks = [b for b in message.get("blocks") or [] if b.get("type") == "markdown"]
    if blocks:
        return "".join(str(b.get("text", "")) for b in blocks)
    return str(message.get("text", ""))


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, micros = ts.partition(".")
    return int(seconds or 0), int(micros or 0)
