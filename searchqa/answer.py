"""The whole flow, top to bottom: one question in, one ordered event stream out."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing

from searchqa.errors import InvalidRequestError, SearchQAError, UpstreamError
from searchqa.events import ErrorEvent, Event, MetaEvent, Source, SourcesEvent
from searchqa.pipeline import Pipeline
from searchqa.protocols import Turn
from searchqa.research import PreparedPrompt, Stopwatch, prepare_file_prompt, research
from searchqa.respond import respond
from searchqa.steps.language import detect_language
from searchqa.steps.prompt import format_date, today_in_zone

MAX_QUESTION_CHARS = 2000
log = logging.getLogger(__name__)


def validate_question(question: str) -> str:
    """The question, stripped; refuse empty or oversized ones before any stream starts."""
    text = question.strip()
    if not text:
        raise InvalidRequestError("the question is empty", code="empty_query")
    if len(text) > MAX_QUESTION_CHARS:
        raise InvalidRequestError(
            f"the question has {len(text)} characters; the limit is {MAX_QUESTION_CHARS}",
            code="query_too_long",
        )
    return text


def clamp_temperature(value: float | None) -> float | None:
    """A requested temperature kept within DeepSeek's 0.5-0.7 (None: the configured one)."""
    return None if value is None else min(max(value, 0.5), 0.7)


def error_event(exc: SearchQAError) -> ErrorEvent:
    service = exc.service if isinstance(exc, UpstreamError) else None
    return ErrorEvent(code=exc.code, message=exc.message, retryable=exc.retryable, service=service)


async def answer(
    question: str,
    *,
    pipeline: Pipeline,
    request_id: str | None = None,
    max_sources: int | None = None,
    history: Sequence[Turn] = (),
    temperature: float | None = None,
) -> AsyncGenerator[Event, None]:
    """Answer a web question: ``meta status* sources ... (done|error)``.

    ``history`` holds the conversation's earlier turns (follow-up questions); they go to the
    model as earlier messages, before the filled template.

    Invalid input and an unreachable model raise before the first event.
    """
    question = validate_question(question)
    stopwatch = Stopwatch()
    language = detect_language(question)
    cur_date = format_date(today_in_zone(pipeline.settings.prompt.timezone), language)
    info = await pipeline.model.describe()
    yield MetaEvent(
        request_id=request_id or uuid.uuid4().hex,
        query=question,
        language=language,
        template=language,
        date=cur_date,
        model=info.id,
    )
    try:
        prepared: PreparedPrompt | None = None
        steps = research(
            question,
            language=language,
            cur_date=cur_date,
            model=info,
            pipeline=pipeline,
            stopwatch=stopwatch,
            max_sources=max_sources,
            history=history,
        )
        async with aclosing(steps):
            async for item in steps:
                if isinstance(item, PreparedPrompt):
                    prepared = item
                    prepared.temperature = clamp_temperature(temperature)
                else:
                    yield item
        assert prepared is not None
        async with aclosing(respond(prepared, model=pipeline.model, stopwatch=stopwatch)) as events:
            async for event in events:
                yield event
    except SearchQAError as exc:
        yield error_event(exc)


async def answer_file(
    question: str,
    *,
    file_name: str,
    file_content: str,
    file_url: str,
    pipeline: Pipeline,
    request_id: str | None = None,
) -> AsyncGenerator[Event, None]:
    """Answer a question about one file with the official file template."""
    question = validate_question(question)
    if not file_content.strip():
        raise InvalidRequestError(f"{file_name} has no text to read", code="empty_file")
    stopwatch = Stopwatch()
    language = detect_language(question)
    info = await pipeline.model.describe()
    yield MetaEvent(
        request_id=request_id or uuid.uuid4().hex,
        query=question,
        language=language,
        template="file",
        date=format_date(today_in_zone(pipeline.settings.prompt.timezone), language),
        model=info.id,
    )
    source = Source(index=1, url=file_url, title=file_name, site="", snippet=file_content[:200])
    yield SourcesEvent(sources=[source])
    try:
        prepared = prepare_file_prompt(
            question,
            file_name=file_name,
            file_content=file_content,
            source=source,
            model=info,
            pipeline=pipeline,
        )
        async with aclosing(respond(prepared, model=pipeline.model, stopwatch=stopwatch)) as events:
            async for event in events:
                yield event
    except SearchQAError as exc:
        yield error_event(exc)
