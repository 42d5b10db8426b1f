"""Stream the model's reply as reasoning, answer and citation events, ending with ``done``."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

from searchqa.documents import PreparedPrompt, Stopwatch
from searchqa.events import (
    AnswerEvent,
    CitationEvent,
    DoneEvent,
    Language,
    ReasoningEvent,
    StatusEvent,
    Timings,
    Usage,
)
from searchqa.protocols import ChatModel
from searchqa.steps.cite import CitationParser

ResponseEvent = StatusEvent | ReasoningEvent | AnswerEvent | CitationEvent | DoneEvent


NO_SOURCES_ANSWER: dict[Language, str] = {
    "en": "Search found no sources for this question, so there is no answer grounded in them. "
    "Try other words, or add documents to the local index with `searchqa index PATH`.",
    "zh": "没有搜索到与这个问题相关的来源，因此无法给出有依据的回答。请换个说法，"
    "或用 `searchqa index PATH` 把文档加入本地索引。",
}
"""What a model that must not answer from nowhere (the embedded one) says when search found
nothing."""


async def generate_answer(
    prepared: PreparedPrompt, *, model: ChatModel, stopwatch: Stopwatch, language: Language = "en"
) -> AsyncGenerator[ResponseEvent, None]:
    """Generate from the prepared prompt; raise LLMError if the model fails."""
    if not prepared.sources and not (await model.describe()).answers_without_sources:
        async for event in _say_no_sources(prepared, stopwatch, language):
            yield event
        return
    parser = CitationParser(prepared.sources)
    reasoning: list[str] = []
    usage = Usage()
    first_token_ms: float | None = None
    first_answer_ms: float | None = None
    answering = False

    yield StatusEvent(stage="think")
    stream = model.stream(
        prepared.prompt,
        max_tokens=prepared.max_tokens,
        history=prepared.history,
        temperature=prepared.temperature,
    )
    async with aclosing(stream):
        async for delta in stream:
            if delta.prompt_read is not None and not answering:
                done, total = delta.prompt_read
                yield StatusEvent(stage="think", done=done, total=total)
                continue
            if delta.usage is not None:
                usage = delta.usage
            if (delta.reasoning or delta.content) and first_token_ms is None:
                first_token_ms = stopwatch.ms()
            if delta.reasoning and not answering:
                reasoning.append(delta.reasoning)
                yield ReasoningEvent(text=delta.reasoning)
            content = delta.content
            if content and not answering:
                # R1 opens its answer with blank lines after </think>.
                content = content.lstrip()
                if not content:
                    continue
                answering = True
                yield StatusEvent(stage="answer")
            if content:
                for event in parser.feed(content):
                    if first_answer_ms is None:
                        first_answer_ms = stopwatch.ms()
                    yield event

    for event in parser.flush():
        if first_answer_ms is None:
            first_answer_ms = stopwatch.ms()
        yield event
    yield DoneEvent(
        answer=parser.answer,
        reasoning="".join(reasoning),
        cited=parser.cited,
        usage=usage,
        timings=Timings(
            search_ms=prepared.search_ms,
            fetch_ms=prepared.fetch_ms,
            first_token_ms=first_token_ms,
            first_answer_ms=first_answer_ms,
            total_ms=stopwatch.ms(),
        ),
        flags=prepared.flags,
        search=prepared.search,
    )


async def _say_no_sources(
    prepared: PreparedPrompt, stopwatch: Stopwatch, language: Language
) -> AsyncGenerator[ResponseEvent, None]:
    text = NO_SOURCES_ANSWER[language]
    yield StatusEvent(stage="answer")
    yield AnswerEvent(text=text)
    elapsed = stopwatch.ms()
    yield DoneEvent(
        answer=text,
        reasoning="",
        cited=[],
        usage=Usage(),
        timings=Timings(
            search_ms=prepared.search_ms,
            fetch_ms=prepared.fetch_ms,
            first_answer_ms=elapsed,
            total_ms=elapsed,
        ),
        flags=prepared.flags,
        search=prepared.search,
    )
