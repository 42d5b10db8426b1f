"""Polite fetching for the indexer: robots.txt, one request at a time per host, sitemaps.

Every request goes through the SSRF-guarded fetchers, robots.txt and sitemaps included, with
FetchSettings.user_agent. robots.txt is read as RFC 9309 says: a 4xx answer (or a body that is
not text) allows everything, a 5xx answer or no answer at all disallows everything for the run.

Limits (constants, not settings): a sitemap source yields at most MAX_SITEMAP_PAGES pages and
reads at most MAX_SITEMAPS sitemap files (nested indexes included, each once); a listed URL on
another host than its sitemap is ignored, as the sitemap protocol requires.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

from searchqa.documents import FetchedPage
from searchqa.index.sitemap import SITEMAP_ACCEPT, XML_CONTENT_TYPES, parse_sitemap
from searchqa.settings import FetchSettings
from searchqa.steps.fetch import PageFetcher, PageFetchError

CRAWL_DELAY_S = 1.0
"""Pause between two requests to the same host."""
MAX_CRAWL_DELAY_S = 10.0
"""Cap on a robots.txt Crawl-delay."""
MAX_SITEMAP_PAGES = 1000
MAX_SITEMAPS = 50
GONE_STATUSES = frozenset({404, 410})

_COMPATIBLE_TOKEN = re.compile(r"compatible;\s*([\w.-]+)")
_LEADING_TOKEN = re.compile(r"^\s*([\w.-]+)")
_UNREACHABLE = frozenset({"timeout", "connect"})


@dataclass(frozen=True, slots=True)
class PageOutcome:
    """A fetched page, or why there is none; ``gone`` for a clear 404 or 410."""

    page: FetchedPage | None
    reason: str | None = None
    gone: bool = False


@dataclass(slots=True)
class SitemapListing:
    """The pages a sitemap (and the sitemaps it nests) lists, or why it could not be read."""

    pages: list[str] = field(default_factory=list)
    failure: str | None = None


def is_sitemap_url(url: str) -> bool:
    return urlsplit(url).path.lower().endswith(".xml")


def robots_agent(user_agent: str) -> str:
    """The product token robots.txt groups are matched against ("searchqa" in our default)."""
    found = _COMPATIBLE_TOKEN.search(user_agent) or _LEADING_TOKEN.search(user_agent)
    return found.group(1) if found else "*"


class SiteCrawler:
    """Fetches URLs as a well-behaved crawler does."""

    def __init__(self, settings: FetchSettings, *, delay_s: float | None = None) -> None:
        self._pages = PageFetcher(settings)
        self._xml = PageFetcher(settings, content_types=XML_CONTENT_TYPES, accept=SITEMAP_ACCEPT)
        self._agent = robots_agent(settings.user_agent)
        self._delay_s = CRAWL_DELAY_S if delay_s is None else delay_s
        self._robots: dict[str, asyncio.Task[RobotFileParser]] = {}
        self._host_locks: dict[str, asyncio.Lock] = {}
        self._host_delays: dict[str, float] = {}
        self._next_request_at: dict[str, float] = {}
        self._robots_unreachable: set[str] = set()

    async def __aenter__(self) -> SiteCrawler:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for task in self._robots.values():
            task.cancel()
        try:
            await self._pages.aclose()
        finally:
            await self._xml.aclose()

    async def fetch(self, url: str, *, xml: bool = False) -> PageOutcome:
        """Fetch a page (or, with ``xml``, a sitemap) unless robots.txt disallows it."""
        origin = _origin(url)
        robots = await self._robots_for(origin)
        if not robots.can_fetch(self._agent, url):
            unreachable = origin in self._robots_unreachable
            return PageOutcome(None, "robots_unreachable" if unreachable else "robots_disallowed")
        return await self._fetch_politely(url, xml=xml)

    async def sitemap_pages(self, url: str, first: PageOutcome | None = None) -> SitemapListing:
        """Page URLs listed by the sitemap at ``url``, following nested sitemap indexes.

        ``first`` is the sitemap's own fetch when the caller already has it.
        """
        listing = SitemapListing()
        pending, seen = [url], {url}
        reads = 0
        while pending and reads < MAX_SITEMAPS and len(listing.pages) < MAX_SITEMAP_PAGES:
            sitemap_url = pending.pop(0)
            outcome = first if first is not None and sitemap_url == url else None
            outcome = outcome or await self.fetch(sitemap_url, xml=True)
            reads += 1
            sitemap = parse_sitemap(outcome.page.text) if outcome.page is not None else None
            if sitemap is None:
                if sitemap_url == url:
                    listing.failure = outcome.reason or "not_a_sitemap"
                continue
            host = urlsplit(sitemap_url).netloc.lower()
            for loc in sitemap.locations:
                absolute = urljoin(sitemap_url, loc)
                if urlsplit(absolute).netloc.lower() != host:
                    continue
                if sitemap.kind == "sitemapindex" and absolute not in seen:
                    seen.add(absolute)
                    pending.append(absolute)
                elif sitemap.kind == "urlset":
                    listing.pages.append(absolute)
        listing.pages = list(dict.fromkeys(listing.pages))[:MAX_SITEMAP_PAGES]
        return listing

    async def _fetch_politely(self, url: str, *, xml: bool = False) -> PageOutcome:
        host = urlsplit(url).netloc.lower()
        lock = self._host_locks.setdefault(host, asyncio.Lock())
        loop = asyncio.get_running_loop()
        async with lock:
            wait = self._next_request_at.get(host, 0.0) - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                page = await (self._xml if xml else self._pages).fetch(url)
            except PageFetchError as exc:
                status = exc.status
                reason = exc.reason if status is None else f"{exc.reason} {status}"
                return PageOutcome(None, reason, gone=status in GONE_STATUSES)
            finally:
                delay = self._host_delays.get(host, self._delay_s)
                self._next_request_at[host] = loop.time() + delay
        return PageOutcome(page)

    async def _robots_for(self, origin: str) -> RobotFileParser:
        task = self._robots.get(origin)
        if task is None:
            task = asyncio.create_task(self._load_robots(origin))
            self._robots[origin] = task
        return await asyncio.shield(task)

    async def _load_robots(self, origin: str) -> RobotFileParser:
        robots = RobotFileParser(origin + "/robots.txt")
        outcome = await self._fetch_politely(origin + "/robots.txt")
        if outcome.page is not None:
            robots.parse(outcome.page.text.splitlines())
        elif (reason := outcome.reason or "") in _UNREACHABLE or reason.startswith("http_status 5"):
            robots.parse(["User-agent: *", "Disallow: /"])
            self._robots_unreachable.add(origin)
        else:
            robots.parse([])
        delay = robots.crawl_delay(self._agent)
        if delay is not None:
            host = urlsplit(origin).netloc
            self._host_delays[host] = max(self._delay_s, min(float(delay), MAX_CRAWL_DELAY_S))
        return robots


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"
