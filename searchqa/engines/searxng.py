"""A SearXNG instance's JSON API: ``GET {base}/search?q=...&format=json&language=...``.

The endpoint is configured by the operator, so it is reached directly, not through the page
fetcher's SSRF guard. The instance must list ``json`` under ``search.formats`` in its
settings.yml, otherwise it answers 403.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from searchqa.documents import SearchHit
from searchqa.engines import EngineFaultError, RateLimitedError
from searchqa.errors import SearchError
from searchqa.events import SearchLanguage

_CHINESE = {"zh": "zh-CN", "zh-hans": "zh-CN", "zh-hant": "zh-TW"}
_USER_AGENT = "searchqa/0.1"


class SearxngEngine:
    """Web search through a self-hosted SearXNG instance."""

    name = "searxng"

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 8.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._search_url = base_url.rstrip("/") + "/search"
        self._timeout_s = timeout_s
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    def _client_for_this_loop(self) -> httpx.AsyncClient:
        """One client (pool, TLS context) per event loop: building one costs ~30 ms of CPU."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = httpx.AsyncClient(timeout=self._timeout_s, transport=self._transport)
            self._client_loop = loop
        return self._client

    async def search(
        self, query: str, *, language: SearchLanguage, max_results: int
    ) -> list[SearchHit]:
        """Return up to ``max_results`` hits; raise SearchError on failure or rate limit."""
        tag = searxng_language(language)
        params = {"q": query, "format": "json", "language": tag}
        headers = {
            "Accept": "application/json",
            "Accept-Language": tag,
            "User-Agent": _USER_AGENT,
        }
        client = self._client_for_this_loop()
        try:
            async with asyncio.timeout(self._timeout_s):
                response = await client.get(self._search_url, params=params, headers=headers)
                body = await response.aread()
        except TimeoutError as exc:
            raise EngineFaultError(f"searxng timed out after {self._timeout_s:g}s") from exc
        except httpx.TimeoutException as exc:
            raise EngineFaultError(f"searxng timed out after {self._timeout_s:g}s") from exc
        except httpx.HTTPError as exc:
            raise EngineFaultError(f"searxng unreachable: {type(exc).__name__}: {exc}") from exc
        _check_status(response.status_code)
        return self._parse(body)[:max_results]

    def _parse(self, body: bytes) -> list[SearchHit]:
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise SearchError("searxng sent malformed JSON") from exc
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            raise SearchError("searxng sent JSON without a results list")
        hits = [hit for item in data["results"] if (hit := self._to_hit(item)) is not None]
        unresponsive = data.get("unresponsive_engines")
        if not hits and isinstance(unresponsive, list) and unresponsive:
            # Nothing found because its upstream engines failed, not because the web is empty.
            raise SearchError(f"searxng upstream engines failed: {_describe(unresponsive)}")
        return hits

    def _to_hit(self, item: Any) -> SearchHit | None:
        if not isinstance(item, dict):
            return None
        url = item.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return None
        published = item.get("publishedDate")
        return SearchHit(
            url=url,
            title=_text(item.get("title")),
            snippet=_text(item.get("content")),
            engine=self.name,
            published=published if isinstance(published, str) and published else None,
        )


def searxng_language(language: SearchLanguage) -> str:
    """SearXNG's ``language`` for a BCP 47 tag: the tag itself (``fr``, ``pt-BR``), with
    Chinese spelled as SearXNG's locales are (``zh-CN``, ``zh-TW``)."""
    tag = language.strip().replace("_", "-") or "all"
    lower = tag.lower()
    if lower in _CHINESE:
        return _CHINESE[lower]
    language_part, _, region = tag.partition("-")
    return f"{language_part.lower()}-{region.upper()}" if region else language_part.lower()


def _check_status(status: int) -> None:
    if status == 429:
        raise RateLimitedError("searxng rate limited (HTTP 429)")
    if status == 403:
        raise EngineFaultError(
            "searxng refused JSON output (HTTP 403): add json to search.formats in settings.yml"
        )
    if status >= 500:
        raise EngineFaultError(f"searxng answered HTTP {status}")
    if status != 200:
        raise SearchError(f"searxng answered HTTP {status}")


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _describe(unresponsive: list[Any]) -> str:
    parts = []
    for entry in unresponsive[:5]:
        if isinstance(entry, list | tuple) and len(entry) >= 2:
            parts.append(f"{entry[0]} ({entry[1]})")
        else:
            parts.append(str(entry))
    return ", ".join(parts)
