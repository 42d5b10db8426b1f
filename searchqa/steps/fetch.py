"""Fetch pages: guarded, capped, concurrent, under one deadline shared with extraction.

A page that fails is not an exception for the pipeline: ``fetch_pages`` yields it with its
failure reason and counts it in ``FetchStats``. Reasons are stable strings: ``blocked``,
``timeout``, ``http_status``, ``too_large``, ``content_type``, ``redirects``, ``connect``,
``decode`` (from ``PageFetcher``) and ``extract`` (the extractor returned nothing).

Redirects are followed here, hop by hop, so the guard sees each one. The body is streamed and
decompressed here too, in bounded steps, so neither a huge body nor a gzip bomb is ever held past
its cap.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import Self

import httpx

from searchqa.documents import FetchedPage, FetchStats, Page, SearchHit
from searchqa.net.body import BodyDecodeError, BodyTooLargeError, read_body
from searchqa.net.guard import AddressGuard, BlockedURLError
from searchqa.net.transport import guarded_client
from searchqa.settings import FetchSettings

logger = logging.getLogger(__name__)

PAGE_CONTENT_TYPES = frozenset(
    {"text/html", "application/xhtml+xml", "text/plain", "text/markdown"}
)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
SILENT_GRACE_SHARE = 0.2
"""The share of the quorum's grace given to pages whose server has not answered by the quorum
(bench/RESULTS.md, "Prompt-ready time")."""


class PageFetchError(Exception):
    """A page could not be fetched; ``reason`` is a short stable string for counting."""

    def __init__(self, reason: str, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = status
        """The HTTP status behind an ``http_status`` failure."""


class PageFetcher:
    """Fetches one outside URL at a time through the guard, within the caps of FetchSettings."""

    def __init__(
        self,
        settings: FetchSettings,
        *,
        guard: AddressGuard | None = None,
        content_types: frozenset[str] = PAGE_CONTENT_TYPES,
        accept: str | None = None,
    ) -> None:
        """``content_types`` are the media types read; others fail without reading the body."""
        self._settings = settings
        self._guard = guard if guard is not None else AddressGuard(settings.allow_hosts)
        self._client = guarded_client(settings, self._guard)
        self._content_types = content_types
        self._headers = {"Accept": accept} if accept else None

    def admits(self, url: str) -> bool:
        """Whether the guard lets ``url`` through on its face (scheme, literal address, known
        metadata names); where its name resolves to is checked when it is fetched."""
        try:
            self._guard.check_url(url)
        except BlockedURLError:
            return False
        return True

    async def fetch(
        self, url: str, *, on_response: Callable[[], None] | None = None
    ) -> FetchedPage:
        """Fetch ``url`` (following redirects) or raise PageFetchError; ``on_response`` is
        called once the final response's headers are in (before its body)."""
        timeout = self._settings.page_timeout_s
        try:
            async with asyncio.timeout(timeout):
                return await self._follow(url, on_response)
        except TimeoutError as exc:
            raise PageFetchError("timeout", f"{url}: no complete page within {timeout:g}s") from exc
        except BlockedURLError as exc:
            raise PageFetchError("blocked", exc.message) from exc
        except httpx.TimeoutException as exc:
            raise PageFetchError("timeout", f"{url}: {type(exc).__name__}") from exc
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise PageFetchError("blocked", f"refused {url!r}: {exc}") from exc
        except httpx.TransportError as exc:
            raise PageFetchError("connect", f"{url}: {str(exc) or type(exc).__name__}") from exc

    async def _follow(self, url: str, on_response: Callable[[], None] | None) -> FetchedPage:
        current, seen = url, {url}
        looped = False
        for _hop in range(self._settings.max_redirects + 1):
            self._guard.check_url(current)
            request = self._client.build_request("GET", current, headers=self._headers)
            response = await self._client.send(request, stream=True)
            try:
                location = response.headers.get("location")
                if response.status_code not in REDIRECT_STATUSES or not location:
                    if on_response is not None:
                        on_response()
                    return await self._read(url, response)
            finally:
                await response.aclose()
            current = str(response.url.join(location.strip()))
            looped = looped or current in seen
            seen.add(current)
        problem = "a redirect loop" if looped else "too many redirects"
        raise PageFetchError(
            "redirects", f"{url}: {problem} (more than {self._settings.max_redirects})"
        )

    async def _read(self, requested_url: str, response: httpx.Response) -> FetchedPage:
        final_url = str(response.url)
        if not response.is_success:
            raise PageFetchError(
                "http_status", f"{final_url}: HTTP {response.status_code}",
                status=response.status_code,
            )  # fmt: skip
        media_type, _, params = response.headers.get("content-type", "").partition(";")
        media_type = media_type.strip().lower()
        if media_type not in self._content_types:
            shown = media_type or "no content type"
            raise PageFetchError("content_type", f"{final_url}: {shown} is not a page")
        try:
            text = await read_body(
                response,
                max_bytes=self._settings.max_bytes,
                max_decompressed_bytes=self._settings.max_decompressed_bytes,
                declared_charset=_charset_param(params),
                html=media_type != "text/plain" and media_type != "text/markdown",
            )
        except BodyTooLargeError as exc:
            raise PageFetchError("too_large", f"{final_url}: {exc}") from exc
        except BodyDecodeError as exc:
            raise PageFetchError("decode", f"{final_url}: {exc}") from exc
        return FetchedPage(
            url=final_url, requested_url=requested_url, text=text, content_type=media_type
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


def _charset_param(params: str) -> str | None:
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip(" \"'"):
            return value.strip(" \"'")
    return None


@dataclass(frozen=True, slots=True)
class PageResult:
    """What became of one search hit."""

    rank: int
    """Position of the hit in the input."""
    hit: SearchHit
    page: Page | None
    """None when it failed."""
    error: str | None
    """The failure reason, when it failed."""


async def fetch_pages(
    hits: Sequence[SearchHit],
    *,
    fetcher: PageFetcher,
    extract: Callable[[SearchHit, FetchedPage], Awaitable[Page | None]],
    deadline: float,
    concurrency: int,
    stats: FetchStats,
    quorum: float = 1.0,
    quorum_grace: float = 0.0,
) -> AsyncGenerator[PageResult, None]:
    """Fetch and extract ``hits``, at most ``concurrency`` at once; yield each as it completes.

    ``deadline`` is absolute (``loop.time()``) and covers fetching and extraction: at the
    deadline the pages still in flight, and those never started, are abandoned (counted in
    ``stats.abandoned``, not yielded). Once a ``quorum`` share of the pages has finished, the
    pages whose server has answered (headers in, body or extraction under way) get
    ``quorum_grace`` times the time that took; those still waiting for a first answer get only
    ``SILENT_GRACE_SHARE`` of that grace (a page silent at the quorum rarely comes), and
    everything left when the grace ends is abandoned. One hanging page should not hold the
    answer until the deadline. Closing or cancelling the consumer
    cancels every fetch before this returns. ``stats``: attempted = len(hits); fetched = bodies
    received; failed (by reason) = fetch or extract failures.
    """
    loop = asyncio.get_running_loop()
    started, finished = loop.time(), 0
    needed = max(1, math.ceil(quorum * len(hits)))
    stats.attempted += len(hits)
    waiting = list(enumerate(hits))
    waiting.reverse()
    running: set[asyncio.Task[PageResult]] = set()
    ranks: dict[asyncio.Task[PageResult], int] = {}
    answered: set[int] = set()  # ranks whose server has sent its response headers
    silent_until = math.inf  # when pages whose server has not answered are dropped
    try:
        while waiting or running:
            while waiting and len(running) < max(concurrency, 1):
                rank, hit = waiting.pop()
                heard = partial(answered.add, rank)
                task = asyncio.create_task(_fetch_one(rank, hit, fetcher, extract, stats, heard))
                ranks[task] = rank
                running.add(task)
            if loop.time() >= silent_until:
                silent_until = math.inf  # once: pages silent now are dropped
                silent = {task for task in running if ranks[task] not in answered}
                running -= silent
                stats.abandoned += len(silent)
                for task in silent:
                    task.cancel()
                if silent:
                    await asyncio.wait(silent)
                continue  # there may be nothing left to wait for
            remaining = min(deadline, silent_until) - loop.time()
            if deadline - loop.time() <= 0:
                break
            done, running = await asyncio.wait(
                running, timeout=max(remaining, 0), return_when=asyncio.FIRST_COMPLETED
            )
            for task in sorted(done, key=lambda t: t.result().rank):
                yield task.result()
            finished += len(done)
            if finished >= needed and finished < len(hits) and quorum < 1.0:
                now = loop.time()
                deadline = min(deadline, now + quorum_grace * (now - started))
                silent_until = now + SILENT_GRACE_SHARE * quorum_grace * (now - started)
                needed = len(hits) + 1  # the grace is granted once
    finally:
        stats.abandoned += len(running) + len(waiting)
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running)


async def _fetch_one(
    rank: int,
    hit: SearchHit,
    fetcher: PageFetcher,
    extract: Callable[[SearchHit, FetchedPage], Awaitable[Page | None]],
    stats: FetchStats,
    on_response: Callable[[], None],
) -> PageResult:
    try:
        fetched = await fetcher.fetch(hit.url, on_response=on_response)
    except PageFetchError as exc:
        logger.debug("page failed (%s): %s", exc.reason, exc.message)
        stats.fail(exc.reason)
        if exc.reason == "blocked":
            stats.blocked.append(hit.url)
        return PageResult(rank=rank, hit=hit, page=None, error=exc.reason)
    stats.fetched += 1
    try:
        page = await extract(hit, fetched)
    except Exception:
        logger.warning("extraction crashed for %s", fetched.url, exc_info=True)
        page = None
    if page is None:
        stats.fail("extract")
        return PageResult(rank=rank, hit=hit, page=None, error="extract")
    return PageResult(rank=rank, hit=hit, page=page, error=None)
