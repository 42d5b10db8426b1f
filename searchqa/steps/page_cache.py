"""Extracted pages kept in the shared cache per URL, so questions that share a source read it once.

A page is stored under the URL it was asked for (the search hit's; redirects may end elsewhere)
with its title, text and date; the snippet belongs to the hit and is taken from the new one.
Pages that failed to fetch or extract are not stored: the failure may be passing. Values are
JSON, compressed by the Redis state from 1 KiB. A cache failure is a miss, never an error.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Container, Sequence
from dataclasses import replace

from searchqa.documents import Page, SearchHit
from searchqa.errors import SearchQAError
from searchqa.state.keys import page_key
from searchqa.state.protocols import KeyValueCache

log = logging.getLogger(__name__)


class PageCache:
    """Pages by URL in ``cache``, each kept for ``ttl_s``."""

    def __init__(self, cache: KeyValueCache, *, ttl_s: float) -> None:
        self._cache = cache
        self._ttl_s = ttl_s

    async def get(self, url: str) -> Page | None:
        """The page last stored for ``url``, if it is still kept."""
        try:
            raw = await self._cache.get(page_key(url))
            if raw is None:
                return None
            fields = json.loads(raw)
            return Page(
                url=fields["url"],
                title=fields["title"],
                text=fields["text"],
                published=fields.get("published"),
            )
        except (SearchQAError, ValueError, TypeError, KeyError) as exc:
            log.warning("page cache unusable for %s: %s", url, exc)
            return None

    async def put(self, page: Page, *, url: str | None = None) -> None:
        """Keep ``page`` under ``url`` (the address it was asked for), by default its own."""
        fields = {
            "url": page.url,
            "title": page.title,
            "text": page.text,
            "published": page.published,
        }
        value = json.dumps(fields, ensure_ascii=False).encode()
        try:
            await self._cache.set(page_key(url or page.url), value, ttl_s=self._ttl_s)
        except SearchQAError as exc:
            log.warning("could not cache page %s: %s", page.url, exc)

    async def lookup(
        self, hits: Sequence[SearchHit], *, skip: Container[int] = ()
    ) -> dict[int, Page]:
        """Cached pages of ``hits`` by rank, with each hit's snippet; ranks in ``skip`` are not
        looked up."""
        ranks = [rank for rank in range(len(hits)) if rank not in skip]
        pages = await asyncio.gather(*(self.get(hits[rank].url) for rank in ranks))
        return {
            rank: replace(
                page,
                snippet=hits[rank].snippet,
                published=page.published or hits[rank].published,
            )
            for rank, page in zip(ranks, pages, strict=True)
            if page is not None
        }
