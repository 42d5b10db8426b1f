"""The whole flow, top to bottom: one question in, one ordered event stream out.

``prepare`` does everything before the model: language, date, model, search, read, pack.
``answer`` streams its progress, then the model's reply as cited events. Invalid input raises
``InvalidRequestError`` when ``answer`` is called; an unreachable model raises before the first
event; every later failure ends the stream with an ``error`` event.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass

from searchqa.documents import FetchStats, Page, PreparedPrompt, Stopwatch
from searchqa.errors import InvalidRequestError, SearchQAError, UpstreamError
from searchqa.events import (
    ErrorEvent,
    Event,
    Language,
    MetaEvent,
    Source,
    SourcesEvent,
    StatusEvent,
)
from searchqa.kit import AnswerKit
from searchqa.protocols import ModelInfo, Turn
from searchqa.steps.compose import compose_file_prompt, compose_in_turn, compose_search_prompt
from searchqa.steps.generate import generate_answer
from searchqa.steps.language import detect_language
from searchqa.steps.prompt import format_date, today_in_zone
from searchqa.steps.read import read_pages, snippet_pages
from searchqa.steps.rewrite import search_query
from searchqa.steps.search import search_web
from searchqa.steps.search_language import detect_search_language

MAX_QUESTION_CHARS = 2000
MAX_HISTORY_TURNS = 20
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
log = logging.getLogger(__name__)

PrepareStep = MetaEvent | StatusEvent | SourcesEvent | PreparedPrompt
"""What ``prepare_steps`` yields: progress events, then the prepared prompt (last)."""


@dataclass(frozen=True, slots=True)
class Question:
    """A question and its options, checked: what every surface hands to the flow."""

    text: str
    history: tuple[Turn, ...] = ()
    max_sources: int | None = None
    temperature: float | None = None
    """Within DeepSeek's 0.5-0.7 once checked; None for the configured one."""

    @classmethod
    def of(
        cls,
        text: str,
        *,
        history: Sequence[Turn] = (),
        max_sources: int | None = None,
        temperature: float | None = None,
    ) -> Question:
        """The question without control characters, stripped and checked;
        InvalidRequestError for unusable input."""
        stripped = without_control_characters(text).strip()
        if not stripped:
            raise InvalidRequestError("the question is empty", code="empty_query")
        if len(stripped) > MAX_QUESTION_CHARS:
            raise InvalidRequestError(
                f"the question has {len(stripped)} characters; the limit is {MAX_QUESTION_CHARS}",
                code="query_too_long",
            )
        if len(history) > MAX_HISTORY_TURNS:
            raise InvalidRequestError(
                f"history has {len(history)} turns; the limit is {MAX_HISTORY_TURNS}",
                code="history_too_long",
                http_status=422,
            )
        if max_sources is not None and not 1 <= max_sources <= 20:
            raise InvalidRequestError(
                "max_sources must be between 1 and 20", code="bad_max_sources", http_status=422
            )
        clamped = None if temperature is None else min(max(temperature, 0.5), 0.7)
        turns = tuple(Turn(turn.role, without_control_characters(turn.content)) for turn in history)
        return cls(stripped, turns, max_sources, clamped)


def without_control_characters(text: str) -> str:
    """``text`` without control characters (NUL, escape, ...), tab and newline excepted."""
    return _CONTROL_CHARACTERS.sub("", text)


def error_event(exc: SearchQAError) -> ErrorEvent:
    """The terminal event for ``exc``."""
    service = exc.service if isinstance(exc, UpstreamError) else None
    return ErrorEvent(code=exc.code, message=exc.message, retryable=exc.retryable, service=service)


def new_request_id() -> str:
    return uuid.uuid4().hex


def answer(
    question: str,
    *,
    kit: AnswerKit,
    request_id: str | None = None,
    max_sources: int | None = None,
    history: Sequence[Turn] = (),
    temperature: float | None = None,
) -> AsyncGenerator[Event, None]:
    """Answer a web question: ``meta status* sources ... (done|error)``.

    ``history`` holds the conversation's earlier turns (follow-up questions); they go to the
    model as earlier messages, before the filled template.
    """
    asked = Question.of(question, history=history, max_sources=max_sources, temperature=temperature)
    stopwatch = Stopwatch()
    steps = prepare_steps(
        asked, kit, request_id=request_id or new_request_id(), stopwatch=stopwatch
    )
    return _stream(steps, kit, stopwatch)


def answer_file(
    question: str,
    *,
    file_name: str,
    file_content: str,
    file_url: str,
    kit: AnswerKit,
    request_id: str | None = None,
) -> AsyncGenerator[Event, None]:
    """Answer a question about one file with the official file template."""
    asked = Question.of(question)
    if not file_content.strip():
        raise InvalidRequestError(f"{file_name} has no text to read", code="empty_file")
    steps = _file_steps(
        asked,
        kit,
        file=Page(url=file_url, title=file_name, text=file_content),
        request_id=request_id or new_request_id(),
    )
    return _stream(steps, kit, Stopwatch())


async def prepare(
    question: Question, kit: AnswerKit, *, model: ModelInfo | None = None
) -> PreparedPrompt:
    """The filled template for ``question``, ready for the model (its progress unreported).

    ``model``: what the model server said about itself, when the caller asked already.
    """
    async with aclosing(prepare_steps(question, kit, model=model)) as steps:
        async for step in steps:
            if isinstance(step, PreparedPrompt):
                return step
    raise AssertionError("prepare_steps ended without a prompt")


async def prepare_steps(
    question: Question,
    kit: AnswerKit,
    *,
    request_id: str | None = None,
    model: ModelInfo | None = None,
    stopwatch: Stopwatch | None = None,
) -> AsyncGenerator[PrepareStep, None]:
    """Language, date, model, search, read and pack, yielding progress as it goes:
    ``meta status* sources``, then the prepared prompt."""
    stopwatch = stopwatch or Stopwatch()
    settings = kit.settings
    meta, model = await _open(question, kit, request_id=request_id, model=model)
    language, cur_date = meta.language, meta.date
    yield meta

    query = await search_query(
        question.text,
        question.history,
        mode=settings.search.rewrite,
        model=kit.brief_model,
        model_id=model.id,
        timeout_s=settings.search.rewrite_timeout_s,
        max_tokens=settings.search.rewrite_max_tokens,
    )
    yield StatusEvent(stage="search", query=query.text)
    outcome = await search_web(
        kit.chain,
        query.text,
        language=meta.search_language or language,
        max_results=question.max_sources or settings.search.max_results,
    )
    search_ms = stopwatch.ms()
    # A result the SSRF guard refuses is no source: neither fetched nor shown as a snippet.
    hits = [hit for hit in outcome.hits if hit.content or kit.fetcher.admits(hit.url)]
    flags = [] if hits else ["no_sources"]

    pages: list[Page] = []
    stats = FetchStats()
    if hits:
        yield StatusEvent(stage="fetch", done=0, total=len(hits))
        reading = read_pages(
            hits,
            fetcher=kit.fetcher,
            extractor=kit.extractor,
            settings=settings.fetch,
            stats=stats,
            page_cache=kit.page_cache,
        )
        async with aclosing(reading):
            async for done, pages_so_far in reading:
                pages = pages_so_far
                yield StatusEvent(stage="fetch", done=done, total=len(hits))
    fetch_ms = stopwatch.ms() if hits else None
    if hits and not pages:
        pages = snippet_pages([hit for hit in hits if hit.url not in stats.blocked])
        flags.append("snippets_only" if pages else "no_sources")
    if outcome.degraded:
        flags.append("search_degraded")
    log.info(
        "search %r (%s) in %s: %s (failed: %s); "
        "pages: %d read of %d, %d fetched, %d failed %s, %d abandoned",
        query.text,
        query.method,
        meta.search_language,
        outcome.engine or "no engine found anything",
        outcome.failures or "none",
        len(pages),
        len(hits),
        stats.fetched,
        stats.failed,
        stats.failures,
        stats.abandoned,
    )

    yield StatusEvent(stage="read", done=len(pages), total=len(hits))
    # Tens of milliseconds of CPU: off the loop, and one question after another.
    composed = await compose_in_turn(
        compose_search_prompt,
        question.text,
        pages,
        language=language,
        cur_date=cur_date,
        history=question.history,
        model=model,
        settings=settings,
        counter=kit.counter,
    )
    sources = [_source(index, page) for index, page in enumerate(composed.pages, start=1)]
    yield SourcesEvent(sources=sources)
    yield PreparedPrompt(
        prompt=composed.prompt,
        sources=sources,
        max_tokens=composed.max_tokens,
        history=question.history,
        temperature=question.temperature,
        flags=flags,
        search_ms=search_ms,
        fetch_ms=fetch_ms,
        search=outcome.report(query.text),
    )


async def _file_steps(
    question: Question, kit: AnswerKit, *, file: Page, request_id: str
) -> AsyncGenerator[PrepareStep, None]:
    """``prepare_steps`` for a question about one file: no search, the file is the source."""
    meta, model = await _open(question, kit, request_id=request_id, about_file=True)
    yield meta
    source = Source(index=1, url=file.url, title=file.title, site="", snippet=file.text[:200])
    yield SourcesEvent(sources=[source])
    composed = await asyncio.to_thread(  # a long file takes a while to count and rank
        compose_file_prompt,
        question.text,
        file_name=file.title,
        file_content=file.text,
        file_url=file.url,
        model=model,
        settings=kit.settings,
        counter=kit.counter,
    )
    yield PreparedPrompt(
        prompt=composed.prompt,
        sources=[source],
        max_tokens=composed.max_tokens,
    )


async def _open(
    question: Question,
    kit: AnswerKit,
    *,
    request_id: str | None,
    model: ModelInfo | None = None,
    about_file: bool = False,
) -> tuple[MetaEvent, ModelInfo]:
    """The stream's first event (language, template, date, model), and what the model
    server said about itself (asked here unless the caller did)."""
    language = detect_language(question.text)
    model = model or await kit.model.describe()
    # The first call loads the detector's model (under a second): keep it off the loop.
    search_language = (
        None if about_file else await asyncio.to_thread(detect_search_language, question.text)
    )
    meta = MetaEvent(
        request_id=request_id or new_request_id(),
        query=question.text,
        language=language,
        template="file" if about_file else language,
        date=format_date(today_in_zone(kit.settings.prompt.timezone), language),
        model=model.id,
        search_language=search_language,
    )
    return meta, model


async def _stream(
    steps: AsyncGenerator[PrepareStep, None], kit: AnswerKit, stopwatch: Stopwatch
) -> AsyncGenerator[Event, None]:
    """The preparation's events, then the model's; failures after ``meta`` become ``error``."""
    prepared: PreparedPrompt | None = None
    started = False
    language: Language = "en"
    try:
        async with aclosing(steps):
            async for step in steps:
                if isinstance(step, PreparedPrompt):
                    prepared = step
                else:
                    if isinstance(step, MetaEvent):
                        language = step.language
                    started = True
                    yield step
        assert prepared is not None
        generating = generate_answer(
            prepared, model=kit.model, stopwatch=stopwatch, language=language
        )
        async with aclosing(generating) as out:
            async for event in out:
                yield event
    except SearchQAError as exc:
        if not started:
            raise
        yield error_event(exc)


def _source(index: int, page: Page) -> Source:
    return Source(
        index=index,
        url=page.url,
        title=page.title,
        site=page.site,
        snippet=page.snippet,
        published=page.published,
    )
