"""The query searched for a question: the question itself, or a standalone follow-up.

Without earlier turns the question is searched as asked, and nothing else is asked of anyone.
After earlier turns, "who created it?" must become "who created Redis?" before it reaches a
search engine. The model is asked first (briefly, without its long thinking: ``BriefModel``);
a reply that fails, comes late or is unusable leaves the job to the rule in ``followup.py``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from searchqa.protocols import BriefModel, BriefReply, Turn
from searchqa.steps.followup import rule_rewrite

__all__ = ["RewriteMode", "SearchQuery", "build_rewrite_prompt", "search_query", "usable_rewrite"]

log = logging.getLogger(__name__)

RewriteMode = Literal["auto", "rule", "off"]
QueryMethod = Literal["question", "model", "rule"]

MAX_TURNS = 6
"""Earlier turns shown to the model: the latest ones."""
MAX_USER_CHARS = 500
MAX_ASSISTANT_CHARS = 300
MAX_QUERY_CHARS = 300

INSTRUCTION = (
    "Write the web search query for the last question of this conversation. The query must "
    "make sense on its own: put the names and things that the question refers to (it, they, "
    "this, 它, 这个...) or leaves out in their place, taken from the conversation. If the last "
    "question is about something new, take nothing from the earlier turns. Keep the language "
    "of the last question. Reply with the query alone, on one line."
)
_PREFIX = re.compile(
    r"^\s*(?:search\s+query|query|rewritten\s+query|搜索(?:词|查询|关键词)?|查询)\s*[:：]\s*", re.I
)
_QUOTES = "\"'`“”‘’「」『』"
_MARKUP = ("<think>", "</think>", "<｜", "<|")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """What is searched, and how it came about."""

    text: str
    method: QueryMethod
    note: str = ""
    """Why the model's rewrite was not used, when it was asked and failed."""


async def search_query(
    question: str,
    history: Sequence[Turn],
    *,
    mode: RewriteMode = "auto",
    model: BriefModel | None = None,
    model_id: str | None = None,
    timeout_s: float = 3.0,
    max_tokens: int = 48,
) -> SearchQuery:
    """The query to search for ``question`` after ``history``."""
    if mode == "off" or not any(turn.role == "user" for turn in history):
        return SearchQuery(question, "question")
    note = ""
    if mode == "auto" and model is not None:
        prompt = build_rewrite_prompt(question, history)
        try:
            reply = await model.reply(
                prompt, max_tokens=max_tokens, timeout_s=timeout_s, model=model_id
            )
        except Exception as exc:  # any failure leaves the job to the rule
            note = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        else:
            text = usable_rewrite(reply)
            if text is not None:
                return SearchQuery(text, "model")
            note = f"unusable reply: {reply.text[:80]!r}"
        log.info("query rewrite by the model failed (%s); the rule stands in", note)
    return SearchQuery(rule_rewrite(question, history), "rule", note)


def build_rewrite_prompt(question: str, history: Sequence[Turn]) -> str:
    """The instruction, the latest turns (one line each, shortened) and the question."""
    lines = [INSTRUCTION, "", "Conversation:"]
    for turn in history[-MAX_TURNS:]:
        limit = MAX_USER_CHARS if turn.role == "user" else MAX_ASSISTANT_CHARS
        speaker = "User" if turn.role == "user" else "Assistant"
        lines.append(f"{speaker}: {_one_line(turn.content, limit)}")
    lines += [f"User: {_one_line(question, MAX_USER_CHARS)}", "", "Search query:"]
    return "\n".join(lines)


def usable_rewrite(reply: BriefReply) -> str | None:
    """The query in the model's reply, or None when the reply cannot be used."""
    if reply.cut_off:
        return None
    lines = [line for line in reply.text.strip().splitlines() if line.strip()]
    if not lines:
        return None
    text = _PREFIX.sub("", lines[0]).strip().strip(_QUOTES).strip()
    if not text or len(text) > MAX_QUERY_CHARS or any(mark in text for mark in _MARKUP):
        return None
    return text


def _one_line(text: str, limit: int) -> str:
    flat = _SPACES.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
