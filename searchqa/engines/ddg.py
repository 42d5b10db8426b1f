"""DuckDuckGo (or another ddgs backend) through the synchronous ``ddgs`` package.

``ddgs`` blocks, so each query runs in a small dedicated thread pool and the wait is bounded
by the search timeout. Regions: ``zh`` -> ``cn-zh``; ``en`` -> ``us-en``. ``wt-wt`` (no region)
is avoided because every ddgs backend other than DuckDuckGo splits the region into
country-language (Wikipedia would look for a ``wt`` edition).

ddgs swallows per-backend errors and raises ``DDGSException("No results found.")`` when
nothing came back; that is reported as an empty list, so the chain moves on without a cooldown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from ddgs import DDGS
from ddgs.exceptions import DDGSException, RatelimitException, TimeoutException

from searchqa.documents import SearchHit
from searchqa.engines import RateLimitedError
from searchqa.errors import SearchError
from searchqa.events import Language

REGIONS: dict[Language, str] = {"zh": "cn-zh", "en": "us-en"}
_NO_RESULTS = "No results found."


class DdgsClient(Protocol):
    """The part of ``ddgs.DDGS`` this adapter uses."""

    def text(self, query: str, **kwargs: Any) -> list[dict[str, Any]]: ...


DdgsFactory = Callable[..., DdgsClient]
"""Called as ``factory(timeout=seconds)`` once per query, like the ``DDGS`` class."""


class DdgsEngine:
    """Web search through ``ddgs`` (DuckDuckGo by default)."""

    name = "ddg"

    def __init__(
        self,
        *,
        backend: str = "duckduckgo",
        timeout_s: float = 8.0,
        ddgs_factory: DdgsFactory | None = None,
        max_workers: int = 4,
    ) -> None:
        self._backend = backend
        self._timeout_s = timeout_s
        self._ddgs_factory = ddgs_factory
        self._max_workers = max_workers
        self._executor: ThreadPoolExecutor | None = None

    async def search(self, query: str, *, language: Language, max_results: int) -> list[SearchHit]:
        """Return up to ``max_results`` hits; raise SearchError on failure or rate limit."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._max_workers, thread_name_prefix="ddgs")
        region = REGIONS[language]
        loop = asyncio.get_running_loop()
        job = loop.run_in_executor(
            self._executor, self._search_blocking, query, region, max_results
        )
        try:
            rows = await asyncio.wait_for(job, timeout=self._timeout_s)
        except TimeoutError as exc:
            raise SearchError(f"ddg timed out after {self._timeout_s:g}s") from exc
        return [hit for row in rows if (hit := self._to_hit(row)) is not None][:max_results]

    def _search_blocking(self, query: str, region: str, max_results: int) -> list[dict[str, Any]]:
        factory: DdgsFactory = self._ddgs_factory or DDGS
        try:
            client = factory(timeout=self._timeout_s)
            return client.text(
                query,
                region=region,
                safesearch="moderate",
                max_results=max_results,
                backend=self._backend,
            )
        except DDGSException as exc:
            if str(exc) == _NO_RESULTS:
                return []
            raise _translate(exc) from exc
        except Exception as exc:
            raise SearchError(f"ddg failed: {type(exc).__name__}: {exc}") from exc

    def _to_hit(self, row: dict[str, Any]) -> SearchHit | None:
        url = row.get("href")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return None
        return SearchHit(
            url=url,
            title=str(row.get("title") or ""),
            snippet=str(row.get("body") or ""),
            engine=self.name,
        )


def _translate(exc: DDGSException) -> SearchError:
    # ddgs re-raises the last backend error wrapped as DDGSException(error).
    cause = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
    if isinstance(cause, RatelimitException):
        return RateLimitedError(f"ddg rate limited: {cause}")
    if isinstance(cause, TimeoutException):
        return SearchError(f"ddg timed out: {cause}")
    return SearchError(f"ddg failed: {cause}")
