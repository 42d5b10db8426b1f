"""Read the hits' pages: cached or held text first, then fetch and extract under one deadline."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing

from searchqa.documents import FetchedPage, FetchStats, Page, SearchHit
from searchqa.settings import FetchSettings
from searchqa.steps.extract import PageExtractor
from searchqa.steps.fetch import PageFetcher, fetch_pages
from searchqa.steps.page_cache import PageCache


def _held_page(hit: SearchHit) -> Page:
    """A page whose text the engine already had."""
    return Page(url=hit.url, title=hit.title, text=hit.content or "", snippet=hit.snippet,
                published=hit.published)  # fmt: skip


def snippet_pages(hits: Sequence[SearchHit]) -> list[Page]:
    """Search snippets standing in for pages when no page could be read."""
    return [
        Page(url=hit.url, title=hit.title, text=hit.snippet, snippet=hit.snippet,
             published=hit.published)
        for hit in hits
        if hit.snippet.strip()
    ]  # fmt: skip


async def read_pages(
    hits: Sequence[SearchHit],
    *,
    fetcher: PageFetcher,
    extractor: PageExtractor,
    settings: FetchSettings,
    stats: FetchStats,
    page_cache: PageCache | None = None,
) -> AsyncGenerator[tuple[int, list[Page]], None]:
    """Yield (finished count, pages so far in rank order) as pages arrive; ``stats`` counts
    what happened to the fetched ones."""

    async def extract(hit: SearchHit, fetched: FetchedPage) -> Page | None:
        page = await extractor.extract(
            fetched, fallback_title=hit.title, snippet=hit.snippet, published=hit.published
        )
        if page is not None and page_cache is not None:
            await page_cache.put(page, url=hit.url)
        return page

    deadline = asyncio.get_running_loop().time() + settings.deadline_s
    by_rank = {rank: _held_page(hit) for rank, hit in enumerate(hits) if hit.content}
    if page_cache is not None:
        by_rank |= await page_cache.lookup(hits, skip=by_rank)
    finished = len(by_rank)
    to_fetch = [(rank, hit) for rank, hit in enumerate(hits) if rank not in by_rank]
    if finished:
        yield finished, [by_rank[rank] for rank in sorted(by_rank)]
    if not to_fetch:
        return
    results = fetch_pages(
        [hit for _, hit in to_fetch],
        fetcher=fetcher,
        extract=extract,
        deadline=deadline,
        concurrency=settings.concurrency,
        stats=stats,
        quorum=settings.quorum,
        quorum_grace=settings.quorum_grace,
    )
    async with aclosing(results):
        async for result in results:
            finished += 1
            if result.page is not None:
                by_rank[to_fetch[result.rank][0]] = result.page
            yield finished, [by_rank[rank] for rank in sorted(by_rank)]
