"""Sitemaps: reading ``<urlset>``/``<sitemapindex>`` documents.

They are fetched by a PageFetcher admitting ``XML_CONTENT_TYPES``: the same guard and caps as pages.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Literal

from searchqa.steps.fetch import PAGE_CONTENT_TYPES

XML_CONTENT_TYPES = frozenset({"application/xml", "text/xml"}) | PAGE_CONTENT_TYPES
SITEMAP_ACCEPT = "application/xml,text/xml;q=0.9,text/plain;q=0.5"
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
