"""What each CLI command does, given its parsed arguments."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncGenerator
from contextlib import aclosing
from pathlib import Path

from rich.console import Console

from searchqa.answer import answer, answer_file, validate_question
from searchqa.errors import InvalidRequestError, LLMError, UpstreamError
from searchqa.events import DoneEvent, ErrorEvent, Event
from searchqa.files import read_local_document, read_local_file
from searchqa.index.build import index_sources
from searchqa.index.seed import seed_index_if_empty
from searchqa.pipeline import Pipeline
from searchqa.protocols import ModelInfo
from searchqa.render import TerminalRenderer
from searchqa.research import PreparedPrompt, Stopwatch, research
from searchqa.settings import Settings
from searchqa.steps.extract import extract_main_text
from searchqa.steps.fetch import PageFetcher, PageFetchError
from searchqa.steps.language import detect_language
from searchqa.steps.prompt import format_date, today_in_zone

_EXIT_FOR_SERVICE = {"search": 3, "llm": 3}


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings()
    engines = getattr(args, "engines", None)
    if engines:
        names = [name.strip() for name in engines.split(",") if name.strip()]
        settings.search = settings.search.model_copy(update={"engines": names})
    return settings


def _max_sources(args: argparse.Namespace) -> int | None:
    value: int | None = args.max_sources
    if value is not None and not 1 <= value <= 20:
        raise InvalidRequestError("--max-sources must be between 1 and 20")
    return value


async def ask(args: argparse.Namespace, question: str) -> int:
    """Stream an answer to the terminal (or JSON lines); the exit code follows the outcome."""
    max_sources = _max_sources(args)
    validate_question(question)
    settings = _settings(args)
    if not args.file:
        await seed_index_if_empty(settings)
    async with Pipeline.from_settings(settings) as pipeline:
        events: AsyncGenerator[Event, None]
        if args.file:
            document = await read_local_file(Path(args.file), extractor=pipeline.extractor)
            events = answer_file(
                question,
                file_name=document.name,
                file_content=document.text,
                file_url=document.url,
                pipeline=pipeline,
            )
        else:
            events = answer(question, pipeline=pipeline, max_sources=max_sources)
        return await _print_events(events, as_json=args.json, show_reasoning=args.reasoning)


async def _print_events(
    events: AsyncGenerator[Event, None], *, as_json: bool, show_reasoning: bool
) -> int:
    renderer = None if as_json else TerminalRenderer(Console(), show_reasoning=show_reasoning)
    exit_code = 1
    try:
        async with aclosing(events):
            async for event in events:
                if renderer is None:
                    sys.stdout.write(event.to_json() + "\n")
                    sys.stdout.flush()
                else:
                    renderer.handle(event)
                if isinstance(event, DoneEvent):
                    exit_code = 0
                elif isinstance(event, ErrorEvent):
                    sys.stderr.write(f"searchqa: {event.message}\n")
                    exit_code = _EXIT_FOR_SERVICE.get(event.service or "", 1)
    finally:
        if renderer is not None:
            renderer.close()
    return exit_code


async def prompt(args: argparse.Namespace, question: str) -> int:
    """Print the filled template for ``question``, then one newline, and nothing else."""
    max_sources = _max_sources(args)
    question = validate_question(question)
    settings = _settings(args)
    await seed_index_if_empty(settings)
    async with Pipeline.from_settings(settings) as pipeline:
        language = detect_language(question)
        cur_date = format_date(today_in_zone(pipeline.settings.prompt.timezone), language)
        try:
            model = await pipeline.model.describe()
        except LLMError as exc:
            model = ModelInfo(id="unknown", context_length=pipeline.settings.llm.context_length)
            sys.stderr.write(f"searchqa: model server not reachable ({exc.message}); "
                             "budgeting without its context length\n")  # fmt: skip
        steps = research(
            question,
            language=language,
            cur_date=cur_date,
            model=model,
            pipeline=pipeline,
            stopwatch=Stopwatch(),
            max_sources=max_sources,
        )
        async with aclosing(steps):
            async for item in steps:
                if isinstance(item, PreparedPrompt):
                    sys.stdout.write(item.prompt + "\n")
    return 0


async def index(args: argparse.Namespace) -> int:
    """Add sources to the local index; print what changed. Exit 1 if any source failed."""
    settings = Settings()
    console = Console(stderr=True, highlight=False)

    def progress(outcome: str, detail: str) -> None:
        if not args.quiet and outcome != "unchanged":
            console.print(f"{outcome:>9}  {detail}", markup=False)

    report = await index_sources(args.sources, settings=settings, progress=progress)
    summary = (
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.removed} removed, {report.failed} failed"
    )
    if report.failures:
        summary += " (" + ", ".join(f"{k}: {v}" for k, v in sorted(report.failures.items())) + ")"
    sys.stdout.write(f"{summary}\nindex: {settings.index.path}\n")
    return 1 if report.failed else 0


async def extract(args: argparse.Namespace) -> int:
    """Print a page's extracted main text, uncapped; metadata first with ``--meta``."""
    target: str = args.target
    if target.startswith(("http://", "https://")):
        settings = Settings()
        async with PageFetcher(settings.fetch) as fetcher:
            try:
                fetched = await fetcher.fetch(target)
            except PageFetchError as exc:
                if exc.reason == "blocked":
                    raise InvalidRequestError(exc.message, code="blocked_url") from exc
                raise UpstreamError(f"{target}: {exc.message}", code=f"fetch_{exc.reason}") from exc
        url, body, content_type = fetched.url, fetched.text, fetched.content_type
    else:
        document = read_local_document(Path(target))
        url, body, content_type = document.url, document.text, document.content_type
    extracted = await asyncio.to_thread(extract_main_text, body, url, content_type)
    if extracted is None or not extracted.text.strip():
        raise InvalidRequestError(f"no main text found in {target}", code="no_text")
    if args.meta:
        sys.stdout.write(f"Title: {extracted.title}\nURL: {url}\n")
        if extracted.published:
            sys.stdout.write(f"Published: {extracted.published}\n")
        sys.stdout.write("\n")
    sys.stdout.write(extracted.text + "\n")
    return 0
