"""Main-text extraction: a page's title, date and article text, boilerplate removed.

HTML goes through trafilatura, in worker processes so the event loop never waits on it; plain
text and Markdown pass through. Paragraphs come out separated by blank lines, because packing
ranks them one by one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import re
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from searchqa.documents import FetchedPage, Page

logger = logging.getLogger(__name__)

PLAIN_TEXT_TYPES = frozenset({"text/plain", "text/markdown", "text/x-markdown"})
MIN_TEXT_CHARS = 20
WORKER_NICENESS = 10
"""How much lower the extraction workers run than the event loop's process."""
"""Shorter results ("Loading...", "Enable JavaScript") are not worth a source slot."""
THIN_TEXT_CHARS = 250
"""Main text shorter than this is followed by the comments (a question and its answers)."""
INLINE_PLAIN_CHARS = 200_000
"""Plain text up to this size is tidied on the loop (milliseconds); larger goes to a worker."""

_BLANK_LINES = re.compile(r"\n[ \t]*\n\s*")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")
_MARKDOWN_TITLE = re.compile(r"\A#[ \t]+(.+?)[ \t#]*(?:\n|\Z)")


@dataclass(frozen=True, slots=True)
class ExtractedText:
    """A page's main text; paragraphs are separated by blank lines."""

    title: str
    text: str
    published: str | None
    """Publication date as an ISO date (``2024-03-18``), when the page states one."""


ExtractFunction = Callable[[str, str, str], ExtractedText | None]


def extract_main_text(body: str, url: str, content_type: str = "text/html") -> ExtractedText | None:
    """Title, date and main text of a page body; None when it holds no readable text.

    Never raises: a page that breaks the extractor is a page without text.
    """
    media = media_type(content_type)
    extracted: ExtractedText | None
    try:
        if media in PLAIN_TEXT_TYPES:
            extracted = _extract_plain(body, markdown=media != "text/plain")
        else:
            extracted = _extract_html(body, url)
    except Exception:
        logger.warning("extraction failed for %s", url, exc_info=True)
        return None
    if extracted is None or len(extracted.text) < MIN_TEXT_CHARS:
        return None
    return extracted


def media_type(content_type: str) -> str:
    """``text/html; charset=utf-8`` -> ``text/html``."""
    return content_type.split(";", 1)[0].strip().lower()


def _tidy(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    text = _TRAILING_SPACE.sub("\n", text)
    return _BLANK_LINES.sub("\n\n", text).strip()


def _extract_plain(body: str, *, markdown: bool) -> ExtractedText:
    text = _tidy(body)
    title = ""
    if markdown and (heading := _MARKDOWN_TITLE.match(text)):
        title = heading.group(1).strip()
        text = text[heading.end() :].strip()
    return ExtractedText(title=title, text=text, published=None)


def _extract_html(body: str, url: str) -> ExtractedText | None:
    # Imported here: the parent process only ships pages to the workers and never needs them.
    from trafilatura import bare_extraction
    from trafilatura.baseline import baseline
    from trafilatura.metadata import extract_metadata
    from trafilatura.settings import Document, set_date_params
    from trafilatura.utils import load_html

    tree = load_html(body)
    if tree is None:
        return None
    # <noscript> holds "enable JavaScript" notices, not content; on a script-only page it is
    # all trafilatura would find.
    for element in tree.xpath("//noscript"):
        element.drop_tree()

    # Comments are extracted apart from the main text and stay out of an article, but forum
    # and Q&A pages keep their posts and answers in comment markup: there they are the content
    # (trafilatura reads forum posts as main text only when comments are on; a question's
    # answers come back as comments).
    document = bare_extraction(
        tree,
        url=url or None,
        output_format="txt",
        include_comments=True,
        include_formatting=False,
        include_tables=True,
        with_metadata=True,
        # Dates from markup only (meta tags, <time>, JSON-LD, URL): the free-text search takes
        # "the 2024 election" for a publication date.
        date_extraction_params=set_date_params(extensive=False),
    )
    paragraphs: list[str] = []
    title = published = None
    if isinstance(document, Document):
        paragraphs = _paragraphs(document.body)
        comments = _paragraphs(document.commentsbody)
        if _length(paragraphs) < THIN_TEXT_CHARS:
            paragraphs += [comment for comment in comments if comment not in paragraphs]
        title, published = document.title, document.date
    if not paragraphs:
        # The simpler extractor: embedded JSON-LD article bodies, <article>, <p>, then all text.
        body_element, _, _ = baseline(tree)
        paragraphs = [text for p in body_element if (text := _tidy(p.text or ""))]
        if not paragraphs:
            return None
        metadata = extract_metadata(tree, url or None, set_date_params(extensive=False))
        title, published = metadata.title, metadata.date
    title = " ".join((title or "").split())
    if paragraphs and paragraphs[0].casefold() == title.casefold():
        paragraphs = paragraphs[1:]  # the headline repeats the title, which the prompt shows
    return ExtractedText(title=title, text="\n\n".join(paragraphs), published=published or None)


def _length(paragraphs: list[str]) -> int:
    return sum(map(len, paragraphs))


def _paragraphs(body: Any) -> list[str]:
    """One paragraph per block of trafilatura's output tree (heading, p, list, table, quote)."""
    from trafilatura.xml import xmltotxt

    if body is None:
        return []
    paragraphs = []
    if body.text and body.text.strip():
        paragraphs.append(_tidy(body.text))
    for block in body:
        text = _tidy(xmltotxt(block, False))
        if text:
            paragraphs.append(text)
    return paragraphs


def _start_method() -> str:
    # Forking a process that runs threads (the event loop's executors, httpx) can deadlock.
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


class PageExtractor:
    """Runs extraction in a pool of worker processes, off the event loop.

    The pool starts on first use. A worker that dies (a page that crashes the parser, the OOM
    killer) costs only the pages it was handling: they count as failed and a fresh pool takes
    the next ones.
    """

    def __init__(self, workers: int = 2, *, extract: ExtractFunction = extract_main_text) -> None:
        """``extract`` runs in the workers: a top-level function, so it can be pickled."""
        self._workers = workers
        self._extract = extract
        self._pool: ProcessPoolExecutor | None = None
        self._closed = False

    async def extract(
        self,
        fetched: FetchedPage,
        *,
        fallback_title: str = "",
        snippet: str = "",
        published: str | None = None,
    ) -> Page | None:
        """The page's main text as a Page; None when it has none or extraction failed.

        The page's own title and date win over the search hit's ``fallback_title`` and
        ``published``.
        """
        args = (fetched.text, fetched.url, fetched.content_type)
        if (
            media_type(fetched.content_type) in PLAIN_TEXT_TYPES
            and len(fetched.text) <= INLINE_PLAIN_CHARS
        ):
            extracted = extract_main_text(*args)
        else:
            extracted = await self._run(args, fetched.url)
        if extracted is None:
            return None
        return Page(
            url=fetched.url,
            title=extracted.title or fallback_title,
            text=extracted.text,
            snippet=snippet,
            published=extracted.published or published,
        )

    async def warm_up(self) -> None:
        """Start the workers (and their imports) now rather than on the first pages."""
        page = ("<html><body><p>warm up</p></body></html>", "", "text/html")
        await asyncio.gather(*(self._run(page, "warm-up") for _ in range(self._workers)))

    async def _run(self, args: tuple[str, str, str], url: str) -> ExtractedText | None:
        pool = self._ensure_pool()
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(pool, self._extract, *args)
        except BrokenProcessPool:
            logger.warning("an extraction worker died while handling %s; restarting the pool", url)
            self._discard(pool)
            return None
        except Exception:
            logger.warning("extraction failed for %s", url, exc_info=True)
            return None

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._closed:
            raise RuntimeError("PageExtractor is closed")
        if self._pool is None:
            context = multiprocessing.get_context(_start_method())
            self._pool = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=context,
                initializer=_lower_priority,
            )
        return self._pool

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        # Several pages fail together when a pool breaks; only the first replaces it.
        if self._pool is pool:
            self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the workers (waits for the pages they are on)."""
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.close)


def _lower_priority() -> None:
    """Workers yield the CPU to the event loop, which must keep streaming to clients."""
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
