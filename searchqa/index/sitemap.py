"""Sitemaps: reading ``<urlset>``/``<sitemapindex>`` documents and fetching them safely.

Sitemaps are XML, a type the page fetcher refuses as "not a page", so ``XmlFetcher`` fetches
them itself, on the same footing: the guarded client (SSRF checks at connect time), each redirect
hop re-checked, the same time and size caps.
"""

from __future__ import annotations

import asyncio
import html
import re
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Self

import httpx

from searchqa.documents import FetchedPage
from searchqa.net.body import BodyDecodeError, BodyTooLargeError, read_body
from searchqa.net.guard import AddressGuard, BlockedURLError
from searchqa.net.transport import guarded_client
from searchqa.settings import FetchSettings
from searchqa.steps.fetch import PAGE_CONTENT_TYPES, REDIRECT_STATUSES, PageFetchError

XML_CONTENT_TYPES = frozenset({"application/xml", "text/xml"}) | PAGE_CONTENT_TYPES
_ACCEPT = "application/xml,text/xml;q=0.9,text/plain;q=0.5"
_ROOT = re.compile(r"<(?:[\w.-]+:)?(urlset|sitemapindex)[\s>]")
_LOC = re.compile(r"<loc>\s*(?:<!\[CDATA\[)?(.*?)(?:\]\]>)?\s*</loc>", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Sitemap:
    """A sitemap's kind and the ``<loc>`` URLs it lists (pages, or further sitemaps)."""

    kind: Literal["urlset", "sitemapindex"]
    locations: list[str]


def parse_sitemap(text: str) -> Sitemap | None:
    """Read a ``<urlset>`` or ``<sitemapindex>``; None if ``text`` is neither.

    A plain scan rather than an XML parser: sitemaps in the wild are often not well formed,
    and a scan resolves no entities or DTDs, so it cannot be made to expand or fetch anything.
    """
    root = _ROOT.search(text[:4096])
    if root is None:
        return None
    kind: Literal["urlset", "sitemapindex"] = (
        "urlset" if root.group(1) == "urlset" else "sitemapindex"
    )
    locations = (html.unescape(loc).strip() for loc in _LOC.findall(text))
    return Sitemap(kind=kind, locations=[loc for loc in locations if loc])


class XmlFetcher:
    """Fetches XML documents through the SSRF guard, within FetchSettings' caps."""

    def __init__(self, settings: FetchSettings) -> None:
        self._settings = settings
        self._guard = AddressGuard(settings.allow_hosts)
        self._client = guarded_client(settings, self._guard)

    async def fetch(self, url: str) -> FetchedPage:
        """Fetch ``url``, following redirects; raise PageFetchError like the page fetcher."""
        timeout = self._settings.page_timeout_s
        try:
            async with asyncio.timeout(timeout):
                return await self._follow(url)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise PageFetchError("timeout", f"{url}: no complete sitemap in {timeout:g}s") from exc
        except BlockedURLError as exc:
            raise PageFetchError("blocked", exc.message) from exc
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise PageFetchError("blocked", f"refused {url!r}: {exc}") from exc
        except httpx.TransportError as exc:
            raise PageFetchError("connect", f"{url}: {exc or type(exc).__name__}") from exc
        except BodyTooLargeError as exc:
            raise PageFetchError("too_large", f"{url}: {exc}") from exc
        except BodyDecodeError as exc:
            raise PageFetchError("decode", f"{url}: {exc}") from exc

    async def _follow(self, url: str) -> FetchedPage:
        current = url
        for _hop in range(self._settings.max_redirects + 1):
            self._guard.check_url(current)
            request = self._client.build_request("GET", current, headers={"Accept": _ACCEPT})
            response = await self._client.send(request, stream=True)
            try:
                location = response.headers.get("location")
                if response.status_code in REDIRECT_STATUSES and location:
                    current = str(response.url.join(location.strip()))
                    continue
                return await self._read(url, response)
            finally:
                await response.aclose()
        raise PageFetchError("redirects", f"{url}: more than {self._settings.max_redirects}")

    async def _read(self, requested_url: str, response: httpx.Response) -> FetchedPage:
        final_url = str(response.url)
        if not response.is_success:
            raise PageFetchError("http_status", f"{final_url}: HTTP {response.status_code}")
        media_type, _, params = response.headers.get("content-type", "").partition(";")
        media_type = media_type.strip().lower()
        if media_type not in XML_CONTENT_TYPES:
            raise PageFetchError("content_type", f"{final_url}: {media_type!r} is not XML")
        charset = params.partition("charset=")[2].strip(" \"'") or None
        text = await read_body(
            response,
            max_bytes=self._settings.max_bytes,
            max_decompressed_bytes=self._settings.max_decompressed_bytes,
            declared_charset=charset,
            html=True,  # also honours an XML declaration's encoding
        )
        return FetchedPage(final_url, requested_url, text, media_type)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
