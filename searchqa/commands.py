"""What each CLI command does, given its parsed arguments."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import AsyncGenerator
from contextlib import aclosing
from pathlib import Path

from rich.console import Console

from searchqa.answer import Question, answer, answer_file, prepare
from searchqa.errors import InvalidRequestError, LLMError, UpstreamError
from searchqa.events import DoneEvent, ErrorEvent, Event
from searchqa.exits import EXIT_BAD_INPUT, EXIT_ERROR, EXIT_OK, EXIT_UPSTREAM
from searchqa.files import read_local_file, url_or_path
from searchqa.index.build import index_sources
from searchqa.index.seed import seed_index_if_empty
from searchqa.kit import AnswerKit
from searchqa.protocols import ModelInfo
from searchqa.render import TerminalRenderer
from searchqa.settings import Settings
from searchqa.steps.extract import extract_main_text
from searchqa.steps.fetch import PageFetcher, PageFetchError

_EXIT_FOR_SERVICE = {"search": EXIT_UPSTREAM, "llm": EXIT_UPSTREAM}
"""Exit codes of answers that ended because a service failed."""


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings()
    engines = getattr(args, "engines", None)
    if engines:
        names = [name.strip() for name in engines.split(",") if name.strip()]
        settings.search = settings.search.model_copy(update={"engines": names})
    return settings


async def ask(args: argparse.Namespace, question: str) -> int:
    """Stream an answer to the terminal (or JSON lines); the exit code follows the outcome."""
    settings = _settings(args)
    async with AnswerKit.from_settings(settings) as kit:
        events: AsyncGenerator[Event, None]
        if args.file:
            document = await read_local_file(_local_file(args.file), extractor=kit.extractor)
            events = answer_file(
                question,
                file_name=document.name,
                file_content=document.text,
                file_url=document.url,
                kit=kit,
            )
        else:
            events = answer(question, kit=kit, max_sources=args.max_sources)
            await seed_index_if_empty(settings)
        return await _print_events(events, as_json=args.json, show_reasoning=args.reasoning)


def _local_file(target: str) -> Path:
    where = url_or_path(target)
    if isinstance(where, str):
        raise InvalidRequestError(
            f"cannot read {target}: --file takes a local path or file: URL", code="unsupported_url"
        )
    return where


async def _print_events(
    events: AsyncGenerator[Event, None], *, as_json: bool, show_reasoning: bool
) -> int:
    renderer = None if as_json else TerminalRenderer(Console(), show_reasoning=show_reasoning)
    exit_code = EXIT_ERROR
    try:
        async with aclosing(events):
            async for event in events:
                if renderer is None:
                    sys.stdout.write(event.to_json() + "\n")
                    sys.stdout.flush()
                else:
                    renderer.handle(event)
                if isinstance(event, DoneEvent):
                    exit_code = EXIT_OK
                elif isinstance(event, ErrorEvent):
                    sys.stderr.write(f"searchqa: {event.message}\n")
                    exit_code = _EXIT_FOR_SERVICE.get(event.service or "", EXIT_ERROR)
    finally:
        if renderer is not None:
            renderer.close()
    return exit_code


async def prompt(args: argparse.Namespace, question: str) -> int:
    """Print the filled template for ``question``, then one newline, and nothing else."""
    asked = Question.of(question, max_sources=args.max_sources)
    settings = _settings(args)
    await seed_index_if_empty(settings)
    async with AnswerKit.from_settings(settings) as kit:
        try:
            model = await kit.model.describe()
        except LLMError as exc:
            model = ModelInfo(id="unknown", context_length=settings.llm.context_length)
            sys.stderr.write(f"searchqa: model server not reachable ({exc.message}); "
                             "budgeting without its context length\n")  # fmt: skip
        prepared = await prepare(asked, kit, model=model)
    sys.stdout.write(prepared.prompt + "\n")
    return EXIT_OK


async def index(args: argparse.Namespace) -> int:
    """Add sources to the local index; print what changed. Exit 2 if no source could be read
    (each missing, unreadable or of an unsupported kind), 1 if any other failed."""
    settings = Settings()
    console = Console(stderr=True, highlight=False)

    def progress(outcome: str, detail: str) -> None:
        if not args.quiet and outcome != "unchanged":
            console.print(f"{outcome:>9}  {detail}", markup=False, soft_wrap=True)

    report = await index_sources(args.sources, settings=settings, progress=progress)
    summary = (
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.removed} removed, {report.failed} failed"
    )
    if report.failures:
        summary += " (" + ", ".join(f"{k}: {v}" for k, v in sorted(report.failures.items())) + ")"
    sys.stdout.write(f"{summary}\nindex: {settings.index.path}\n")
    given = [source for source in args.sources if source.strip()]
    if given and len(report.refused) == len(given):
        return EXIT_BAD_INPUT
    return EXIT_ERROR if report.failed else EXIT_OK


async def extract(args: argparse.Namespace) -> int:
    """Print a page's extracted main text, uncapped; metadata first with ``--meta``."""
    target: str = args.target
    where = url_or_path(target)
    if isinstance(where, str):
        settings = Settings()
        async with PageFetcher(settings.fetch) as fetcher:
            try:
                fetched = await fetcher.fetch(where)
            except PageFetchError as exc:  # its message names the URL
                if exc.reason == "blocked":
                    raise InvalidRequestError(exc.message, code="blocked_url") from exc
                raise UpstreamError(exc.message, code=f"fetch_{exc.reason}") from exc
        page = await asyncio.to_thread(
            extract_main_text, fetched.text, fetched.url, fetched.content_type
        )
        url, title, text, published = fetched.url, "", "", None
        if page is not None:
            title, text, published = page.title, page.text, page.published
    else:
        document = await read_local_file(where)
        url, title, text, published = (
            document.url,
            document.title,
            document.text,
            document.published,
        )
    if not text.strip():
        raise InvalidRequestError(f"no main text found in {target}", code="no_text")
    if args.meta:
        sys.stdout.write(f"Title: {title}\nURL: {url}\n")
        if published:
            sys.stdout.write(f"Published: {published}\n")
        sys.stdout.write("\n")
    sys.stdout.write(text + "\n")
    return EXIT_OK


async def slack() -> int:
    """Run the Slack bot over Socket Mode until interrupted."""
    from searchqa.slack.socket import run_socket_mode

    logging.basicConfig(
        level=logging.INFO, force=True, format="%(levelname)s %(name)s: %(message)s"
    )
    await run_socket_mode(Settings())
    return EXIT_OK
