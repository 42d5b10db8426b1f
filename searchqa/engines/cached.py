"""Search results kept in the shared cache per (engine, query, language).

The wrapper keeps the engine's name, so the chain's cooldowns and the answer cache key are the
same with or without it. Failures are never cached (the chain must see them to cool the engine
down), nor are empty results (the chain passes the turn to the next engine). A cached entry
remembers how many results were asked for: it serves requests for as many or fewer, or any
number when the engine had no more to give.

The local index is not wrapped: it is as fast as the cache and changes when it is rebuilt.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from searchqa.documents import SearchHit
from searchqa.errors import SearchQAError
from searchqa.events import SearchLanguage
from searchqa.protocols import SearchEngine
from searchqa.state.keys import search_key
from searchqa.state.protocols import KeyValueCache

UNCACHED_ENGINES = frozenset({"local"})
log = logging.getLogger(__name__)


class CachedSearchEngine:
    """``engine`` with its results reused for ``ttl_s``."""

    def __init__(self, engine: SearchEngine, cache: KeyValueCache, *, ttl_s: float) -> None:
        self.name = engine.name
        self._engine = engine
        self._cache = cache
        self._ttl_s = ttl_s

    async def search(
        self, query: str, *, language: SearchLanguage, max_results: int
    ) -> list[SearchHit]:
        key = search_key(self.name, query, language)
        cached = await self._lookup(key, max_results)
        if cached is not None:
            return cached
        hits = await self._engine.search(query, language=language, max_results=max_results)
        if hits:
            await self._store(key, hits, max_results)
        return hits

    async def _lookup(self, key: str, max_results: int) -> list[SearchHit] | None:
        try:
            raw = await self._cache.get(key)
            if raw is None:
                return None
            entry: dict[str, Any] = json.loads(raw)
            hits = [SearchHit(**hit) for hit in entry["hits"]]
            if entry["asked"] < max_results and len(hits) >= entry["asked"]:
                return None  # asked for fewer than now; the engine may have more
            return hits[:max_results]
        except (SearchQAError, ValueError, TypeError, KeyError) as exc:
            log.warning("search cache unusable for %s: %s", self.name, exc)
            return None

    async def _store(self, key: str, hits: list[SearchHit], max_results: int) -> None:
        entry = {"asked": max_results, "hits": [asdict(hit) for hit in hits]}
        try:
            await self._cache.set(key, json.dumps(entry).encode(), ttl_s=self._ttl_s)
        except SearchQAError as exc:
            log.warning("could not cache %s results: %s", self.name, exc)


def cache_engines(
    engines: Sequence[SearchEngine], cache: KeyValueCache, *, ttl_s: float
) -> list[SearchEngine]:
    """``engines`` with the web engines' results cached for ``ttl_s`` (0: none are)."""
    if ttl_s <= 0:
        return list(engines)
    return [
        engine
        if engine.name in UNCACHED_ENGINES
        else CachedSearchEngine(engine, cache, ttl_s=ttl_s)
        for engine in engines
    ]
