"""DuckDuckGo (or another ddgs backend) through the synchronous ``ddgs`` package.

``ddgs`` blocks, so each query runs in a small dedicated thread pool and the wait is bounded
by the search timeout. The region follows the search language (``region_for``): DuckDuckGo's
own codes (``fr`` -> ``fr-fr``, ``ja`` -> ``jp-jp``, ``zh-TW`` -> ``tw-tzh``); a language
DuckDuckGo has no region for is searched without one (``wt-wt``). Every ddgs backend other
than DuckDuckGo splits the region into country-language and reads the language as ISO 639-1
(Wikipedia would look for a ``jp`` or ``wt`` edition), so with other backends configured the
language part is ISO (``jp-ja``) and a language without a region falls back to ``us-en``.

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
from searchqa.engines import EngineFaultError, RateLimitedError
from searchqa.errors import SearchError
from searchqa.events import SearchLanguage

REGIONS: dict[str, str] = {
    "en": "us-en", "fr": "fr-fr", "de": "de-de", "es": "es-es", "pt": "br-pt", "it": "it-it",
    "nl": "nl-nl", "pl": "pl-pl", "tr": "tr-tr", "vi": "vn-vi", "id": "id-id", "sv": "se-sv",
    "cs": "cz-cs", "da": "dk-da", "no": "no-no", "nb": "no-no", "fi": "fi-fi", "ro": "ro-ro",
    "hu": "hu-hu", "sk": "sk-sk", "hr": "hr-hr", "sl": "sl-sl", "et": "ee-et", "lv": "lv-lv",
    "lt": "lt-lt", "ca": "ct-ca", "ms": "my-ms", "tl": "ph-tl", "ru": "ru-ru", "uk": "ua-uk",
    "bg": "bg-bg", "ar": "xa-ar", "he": "il-he", "el": "gr-el", "th": "th-th", "hi": "in-en",
    "ja": "jp-jp", "ko": "kr-kr", "zh": "cn-zh", "zh-cn": "cn-zh", "zh-sg": "cn-zh",
    "zh-tw": "tw-tzh", "zh-hk": "hk-tzh", "zh-hant": "tw-tzh", "zh-hans": "cn-zh",
}  # fmt: skip
"""BCP 47 tag (lower case) or its language subtag -> DuckDuckGo region (``kl``)."""
_ISO_LANGUAGE = {"jp": "ja", "kr": "ko", "tzh": "zh"}
"""DuckDuckGo's language parts that are not ISO 639-1, for the other ddgs backends."""


def region_for(language: SearchLanguage, backend: str = "duckduckgo") -> str:
    """The ddgs ``region`` for a BCP 47 tag, given the configured backend(s)."""
    tag = language.strip().lower().replace("_", "-")
    region = REGIONS.get(tag) or REGIONS.get(tag.split("-", 1)[0])
    only_duckduckgo = all(name.strip() in ("duckduckgo", "") for name in backend.lower().split(","))
    if only_duckduckgo:
        return region or "wt-wt"
    if region is None:
        return "us-en"
    country, lang = region.split("-")
    return f"{country}-{_ISO_LANGUAGE.get(lang, lang)}"


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

    async def search(
        self, query: str, *, language: SearchLanguage, max_results: int
    ) -> list[SearchHit]:
        """Return up to ``max_results`` hits; raise SearchError on failure or rate limit."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._max_workers, thread_name_prefix="ddgs")
        region = region_for(language, self._backend)
        loop = asyncio.get_running_loop()
        job = loop.run_in_executor(
            self._executor, self._search_blocking, query, region, max_results
        )
        try:
            rows = await asyncio.wait_for(job, timeout=self._timeout_s)
        except TimeoutError as exc:
            raise EngineFaultError(f"ddg timed out after {self._timeout_s:g}s") from exc
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
        return EngineFaultError(f"ddg timed out: {cause}")
    return EngineFaultError(f"ddg failed: {cause}")  # ddgs wraps network and backend errors
