"""Indexing: files, folders, web pages and sitemaps into the local index.

Re-running is cheap and converges: a file whose bytes hash the same as last time is not parsed
again, a folder's files that are gone leave the index, and so does a page answering 404 or 410.
Every write goes through one connection on one thread; everything slow runs off the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from searchqa.errors import InvalidRequestError
from searchqa.files import read_file_text, url_or_path
from searchqa.index.crawl import PageOutcome, SiteCrawler, is_sitemap_url
from searchqa.index.files import (
    discover_files,
    file_url,
    folder_url_prefix,
    inspect_source,
    read_file,
)
from searchqa.index.sitemap import parse_sitemap
from searchqa.index.store import IndexedDocument, IndexStore, UpsertOutcome
from searchqa.settings import Settings
from searchqa.steps.extract import PageExtractor

Progress = Callable[[str, str], None]
"""Called as ``progress(outcome, detail)``: outcome is added, updated, unchanged, removed or
failed; detail is the document's URL (for failed: ``"<url or source>: <reason>"``)."""

_FILE_FAILURES = {"file_too_large": "too_large", "bad_file": "unreadable"}
"""Failure reasons reported under another name than the error's code."""
COMMIT_EVERY = 200
"""Files written per transaction (web pages commit one by one), so readers see progress."""
_T = TypeVar("_T")


@dataclass(slots=True)
class IndexReport:
    """What one indexing run did."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    """Failure reason -> count."""
    errors: list[tuple[str, str]] = field(default_factory=list)
    """(URL or source, reason) of every failure, in order."""
    refused: list[str] = field(default_factory=list)
    """Sources that name nothing readable: a missing path, a file that cannot be read, a URL of
    a scheme other than http, https or file."""


async def index_sources(
    sources: Sequence[str],
    *,
    settings: Settings,
    progress: Progress | None = None,
    crawl_delay_s: float | None = None,
) -> IndexReport:
    """Index each source: a file, a folder (recursive), a web page URL or a sitemap URL.

    Folders take the files ``searchqa.files`` reads (text, Markdown, reST, HTML, PDF). Web
    sources are fetched through the guarded page fetcher, honouring robots.txt, one request at
    a time per host with a pause of ``crawl_delay_s`` between (default
    ``crawl.CRAWL_DELAY_S``; a longer robots.txt Crawl-delay wins). Raises SearchError if the
    index database is unusable.
    """
    report = IndexReport()
    async with _Indexer(settings, report, progress, crawl_delay_s) as indexer:
        for source in sources:
            await indexer.index_source(source.strip())
    return report


class _Indexer:
    def __init__(
        self,
        settings: Settings,
        report: IndexReport,
        progress: Progress | None,
        crawl_delay_s: float | None,
    ) -> None:
        self._settings = settings
        self._report = report
        self._progress = progress
        self._crawl_delay_s = crawl_delay_s
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="searchqa-index")
        self._store: IndexStore | None = None
        self._pending = 0
        self._crawler: SiteCrawler | None = None
        self._extractor = PageExtractor(settings.fetch.extract_workers)
        # Files in flight at once: enough to keep every extraction worker busy.
        self._workers = max(2, settings.fetch.extract_workers * 2)

    async def __aenter__(self) -> _Indexer:
        self._store = await self._write(IndexStore.open_writer, self._settings.index.path)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._crawler is not None:
                await self._crawler.__aexit__(exc_type, exc, tb)
            await self._extractor.__aexit__(exc_type, exc, tb)
        finally:
            if self._store is not None:
                store = self._store
                await self._write(_commit_and_close, store)
            self._writer.shutdown(wait=False)

    async def index_source(self, source: str) -> None:
        if not source:
            return
        try:
            where = url_or_path(source)
        except InvalidRequestError as exc:
            self._refuse(source, exc.code)
            return
        if isinstance(where, str):
            await self._index_web(where)
        else:
            await self._index_path(where, source)
        await self._call(IndexStore.commit)

    # Local files

    async def _index_path(self, path: Path, source: str) -> None:
        local = await asyncio.to_thread(inspect_source, path)
        if local.kind == "folder":
            await self._index_folder(local.path)
        elif local.kind == "file":
            url = file_url(local.path)
            known = await self._call(IndexStore.content_hash, url)
            if not await self._index_file(local.path, url, known, str(local.path)):
                self._report.refused.append(source)
        else:
            self._refuse(source, "not_found" if local.kind == "missing" else "unsupported_type")

    async def _index_folder(self, folder: Path) -> None:
        files = await asyncio.to_thread(discover_files, folder)
        known = await self._call(IndexStore.content_hashes, folder_url_prefix(folder))
        todo = iter([(path, file_url(path)) for path in files])
        seen: set[str] = set()

        async def work() -> None:
            for path, url in todo:
                seen.add(url)
                await self._index_file(path, url, known.get(url), str(folder))

        await asyncio.gather(*(work() for _ in range(self._workers)))
        await self._remove(sorted(known.keys() - seen))

    async def _index_file(self, path: Path, url: str, known_hash: str | None, root: str) -> bool:
        """Index one file; False when it could not be read."""
        try:
            raw, content_hash = await asyncio.to_thread(read_file, path)
        except InvalidRequestError as exc:
            self._fail(url, _FILE_FAILURES.get(exc.code) or exc.message)
            return False
        if content_hash == known_hash:
            self._count("unchanged", url)
            return True
        try:
            read = await read_file_text(path.name, None, raw, url=url, extractor=self._extractor)
        except InvalidRequestError as exc:
            read = None
            reason = exc.code
        else:
            reason = "no_text"
        if read is None or (read.kind == "html" and not read.text.strip()):
            # The file changed and holds no text now: its old text must not stay findable.
            await self._remove([url] if known_hash else [])
            self._fail(url, reason)
            return False
        doc = IndexedDocument(
            url=url,
            source_root=root,
            title=read.title or path.name,
            text=read.text,
            content_hash=content_hash,
            published=read.published,
        )
        await self._upsert(doc)
        return True

    # Web pages and sitemaps

    async def _index_web(self, url: str) -> None:
        crawler = await self._get_crawler()
        if is_sitemap_url(url):
            await self._index_sitemap(url, None)
        else:
            outcome = await crawler.fetch(url)
            if outcome.reason == "content_type":  # maybe a sitemap served as XML
                xml = await crawler.fetch(url, xml=True)
                outcome = xml if xml.page is not None else outcome
            if outcome.page is not None and parse_sitemap(outcome.page.text) is not None:
                await self._index_sitemap(url, outcome)
            else:
                await self._index_page(url, url, outcome)

    async def _index_sitemap(self, url: str, first: PageOutcome | None) -> None:
        crawler = await self._get_crawler()
        listing = await crawler.sitemap_pages(url, first)
        if listing.failure is not None:
            self._fail(url, listing.failure)
            return
        # Pages indexed from this sitemap before but no longer listed are checked again,
        # so that a page now answering 404 or 410 leaves the index.
        earlier = await self._call(IndexStore.urls_from, url)
        pages = list(dict.fromkeys([*listing.pages, *sorted(earlier)]))

        async def one(page_url: str) -> None:
            await self._index_page(page_url, url, await crawler.fetch(page_url))
            # Pages arrive slowly: commit each, so the write lock is never held across a fetch.
            await self._call(IndexStore.commit)

        await asyncio.gather(*(one(page_url) for page_url in pages))

    async def _index_page(self, url: str, source_root: str, outcome: PageOutcome) -> None:
        if outcome.page is None:
            if not (outcome.gone and await self._remove([url])):
                self._fail(url, outcome.reason or "fetch_failed")
            return
        page = outcome.page
        content_hash = hashlib.sha256(page.text.encode("utf-8", "surrogatepass")).hexdigest()
        if content_hash == await self._call(IndexStore.content_hash, url):
            self._count("unchanged", url)
            return
        extracted = await self._extractor.extract(page, fallback_title=url)
        if extracted is None:
            self._fail(url, "no_text")
            return
        doc = IndexedDocument(
            url=url,
            source_root=source_root,
            title=extracted.title or url,
            text=extracted.text,
            content_hash=content_hash,
            published=extracted.published,
        )
        await self._upsert(doc)

    async def _get_crawler(self) -> SiteCrawler:
        if self._crawler is None:
            self._crawler = SiteCrawler(self._settings.fetch, delay_s=self._crawl_delay_s)
        return self._crawler

    # Bookkeeping

    async def _upsert(self, doc: IndexedDocument) -> None:
        outcome: UpsertOutcome = await self._call(IndexStore.upsert, doc)
        self._count(outcome, doc.url)
        self._pending += 1
        if self._pending >= COMMIT_EVERY:
            self._pending = 0
            await self._call(IndexStore.commit)

    async def _remove(self, urls: Sequence[str]) -> list[str]:
        removed: list[str] = await self._call(IndexStore.delete, urls) if urls else []
        for url in removed:
            self._count("removed", url)
        return removed

    def _count(self, outcome: str, url: str) -> None:
        setattr(self._report, outcome, getattr(self._report, outcome) + 1)
        if self._progress is not None:
            self._progress(outcome, url)

    def _refuse(self, source: str, reason: str) -> None:
        self._report.refused.append(source)
        self._fail(source, reason)

    def _fail(self, where: str, reason: str) -> None:
        report = self._report
        report.failed += 1
        kind = reason.split(" ", 1)[0]
        report.failures[kind] = report.failures.get(kind, 0) + 1
        report.errors.append((where, reason))
        if self._progress is not None:
            self._progress("failed", f"{where}: {reason}")

    async def _call(self, method: Callable[..., _T], *args: Any) -> _T:
        assert self._store is not None
        return await self._write(method, self._store, *args)

    async def _write(self, fn: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._writer, partial(fn, *args))


def _commit_and_close(store: IndexStore) -> None:
    try:
        store.commit()
    finally:
        store.close()
