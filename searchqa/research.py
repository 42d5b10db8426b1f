"""Search, read and pack: everything before the model sees the prompt."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field

from searchqa.documents import FetchedPage, FetchStats, Page, SearchHit
from searchqa.events import Language, Source, SourcesEvent, StatusEvent
from searchqa.pipeline import Pipeline
from searchqa.protocols import ModelInfo, Turn
from searchqa.steps.fetch import fetch_pages
from searchqa.steps.pack import pack_context, plan_budget
from searchqa.steps.prompt import build_file_prompt, build_search_prompt
from searchqa.steps.search import search_web

HISTORY_TURN_TOKENS = 8
"""What the chat format spends around each earlier turn (role markers, separators)."""


class Stopwatch:
    """Milliseconds since the request started."""

    def __init__(self) -> None:
        self._start = time.perf_counter()

    def ms(self) -> float:
        return round((time.perf_counter() - self._start) * 1000, 1)


@dataclass
class PreparedPrompt:
    """The filled template and what the answer step needs to cite and budget it."""

    prompt: str
    sources: list[Source]
    max_tokens: int
    history: Sequence[Turn] = ()
    """Earlier turns of the conversation, sent before the prompt."""
    temperature: float | None = None
    """A per-request temperature (already within 0.5-0.7); None for the configured one."""
    flags: list[str] = field(default_factory=list)
    search_ms: float | None = None
    fetch_ms: float | None = None


def output_cap(max_tokens: int, model: ModelInfo) -> int:
    """The configured reply budget, lowered for models that cap their own replies."""
    return min(max_tokens, model.max_output_tokens or max_tokens)


def _to_source(index: int, page: Page) -> Source:
    return Source(
        index=index,
        url=page.url,
        title=page.title,
        site=page.site,
        snippet=page.snippet,
        published=page.published,
    )


def _held_page(hit: SearchHit) -> Page:
    """A page whose text the engine already had."""
    return Page(url=hit.url, title=hit.title, text=hit.content or "", snippet=hit.snippet,
                published=hit.published)  # fmt: skip


def _snippet_pages(hits: Sequence[SearchHit]) -> list[Page]:
    """Search snippets standing in for pages when no page could be read."""
    return [
        Page(url=hit.url, title=hit.title, text=hit.snippet, snippet=hit.snippet,
             published=hit.published)
        for hit in hits
        if hit.snippet.strip()
    ]  # fmt: skip


async def _read_pages(
    hits: Sequence[SearchHit], pipeline: Pipeline
) -> AsyncGenerator[tuple[int, list[Page]], None]:
    """Fetch and extract under one deadline; yield (finished count, pages so far in rank order)."""
    settings = pipeline.settings.fetch
    extractor = pipeline.extractor

    async def extract(hit: SearchHit, fetched: FetchedPage) -> Page | None:
        page = await extractor.extract(
            fetched, fallback_title=hit.title, snippet=hit.snippet, published=hit.published
        )
        if page is not None and pipeline.page_cache is not None:
            await pipeline.page_cache.put(page, url=hit.url)
        return page

    deadline = asyncio.get_running_loop().time() + settings.deadline_s
    by_rank = {rank: _held_page(hit) for rank, hit in enumerate(hits) if hit.content}
    if pipeline.page_cache is not None:
        by_rank |= await pipeline.page_cache.lookup(hits, skip=by_rank)
    finished = len(by_rank)
    to_fetch = [(rank, hit) for rank, hit in enumerate(hits) if rank not in by_rank]
    if finished:
        yield finished, [by_rank[rank] for rank in sorted(by_rank)]
    if not to_fetch:
        return
    results = fetch_pages(
        [hit for _, hit in to_fetch],
        fetcher=pipeline.fetcher,
        extract=extract,
        deadline=deadline,
        concurrency=settings.concurrency,
        stats=FetchStats(),
        quorum=settings.quorum,
        quorum_grace=settings.quorum_grace,
    )
    async with aclosing(results):
        async for result in results:
            finished += 1
            if result.page is not None:
                by_rank[to_fetch[result.rank][0]] = result.page
            yield finished, [by_rank[rank] for rank in sorted(by_rank)]


async def research(
    question: str,
    *,
    language: Language,
    cur_date: str,
    model: ModelInfo,
    pipeline: Pipeline,
    stopwatch: Stopwatch,
    max_sources: int | None = None,
    history: Sequence[Turn] = (),
) -> AsyncGenerator[StatusEvent | SourcesEvent | PreparedPrompt, None]:
    """Yield progress, then the sources, then the prepared prompt (last)."""
    settings = pipeline.settings
    flags: list[str] = []

    yield StatusEvent(stage="search")
    outcome = await search_web(
        pipeline.chain,
        question,
        language=language,
        max_results=max_sources or settings.search.max_results,
    )
    search_ms = stopwatch.ms()
    hits = outcome.hits
    if not hits:
        flags.append("no_sources")

    pages: list[Page] = []
    if hits:
        yield StatusEvent(stage="fetch", done=0, total=len(hits))
        async for done, pages_so_far in _read_pages(hits, pipeline):
            pages = pages_so_far
            yield StatusEvent(stage="fetch", done=done, total=len(hits))
    fetch_ms = stopwatch.ms() if hits else None
    if hits and not pages:
        pages = _snippet_pages(hits)
        flags.append("snippets_only")

    yield StatusEvent(stage="read", done=len(pages), total=len(hits))
    # Token counting and ranking take tens of milliseconds of CPU: keep them off the loop.
    prepared = await asyncio.to_thread(
        _pack_prompt,
        question,
        pages,
        language=language,
        cur_date=cur_date,
        model=model,
        pipeline=pipeline,
        history=history,
    )
    prepared.flags, prepared.search_ms, prepared.fetch_ms = flags, search_ms, fetch_ms
    yield SourcesEvent(sources=prepared.sources)
    yield prepared


def _pack_prompt(
    question: str,
    pages: list[Page],
    *,
    language: Language,
    cur_date: str,
    model: ModelInfo,
    pipeline: Pipeline,
    history: Sequence[Turn],
) -> PreparedPrompt:
    """Budget the context, pack the pages and fill the template."""
    settings = pipeline.settings
    counter = pipeline.counter
    template = build_search_prompt(
        question=question, pages=[], cur_date=cur_date, language=language
    )
    headers = "".join(
        f"[webpage {i} begin]\nTitle: {p.title}\nURL: {p.url}\n" for i, p in enumerate(pages, 1)
    )
    turns = sum(counter.count(turn.content) + HISTORY_TURN_TOKENS for turn in history)
    overhead = counter.count(template) + counter.count(headers) + turns
    budget = plan_budget(
        context_length=model.context_length,
        overhead_tokens=overhead,
        page_count=len(pages),
        max_tokens=output_cap(settings.llm.max_tokens, model),
        settings=settings.pack,
    )
    packed = pack_context(pages, question=question, budget=budget, counter=counter)
    return PreparedPrompt(
        prompt=build_search_prompt(
            question=question, pages=packed, cur_date=cur_date, language=language
        ),
        sources=[_to_source(index, page) for index, page in enumerate(packed, start=1)],
        max_tokens=budget.max_tokens,
        history=history,
    )


FILE_TOKENS_WHEN_CONTEXT_UNKNOWN = 100_000


def prepare_file_prompt(
    question: str,
    *,
    file_name: str,
    file_content: str,
    source: Source,
    model: ModelInfo,
    pipeline: Pipeline,
) -> PreparedPrompt:
    """Fit one file into the file template, keeping its passages most relevant to the question."""
    settings = pipeline.settings
    overhead = pipeline.counter.count(
        build_file_prompt(question=question, file_name=file_name, file_content="")
    )
    file_cap = max(1, (model.context_length or FILE_TOKENS_WHEN_CONTEXT_UNKNOWN) - overhead)
    budget = plan_budget(
        context_length=model.context_length,
        overhead_tokens=overhead,
        page_count=1,
        max_tokens=output_cap(settings.llm.max_tokens, model),
        settings=settings.pack.model_copy(
            update={"total_tokens": file_cap, "page_tokens": file_cap}
        ),
    )
    page = Page(url=source.url, title=file_name, text=file_content)
    packed = pack_context([page], question=question, budget=budget, counter=pipeline.counter)
    return PreparedPrompt(
        prompt=build_file_prompt(
            question=question,
            file_name=file_name,
            file_content=packed[0].text if packed else "",
        ),
        sources=[source],
        max_tokens=budget.max_tokens,
    )
