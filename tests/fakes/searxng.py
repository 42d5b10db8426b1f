"""A fake SearXNG that answers ``/search?format=json`` with SearXNG's real JSON shape.

Data-driven, so any test can point search results at its own pages::

    searx = FakeSearxng([searx_result(f"{web.url}/a.html", "Page A", "snippet")])
    searx.by_query["rust"] = [searx_result("https://www.rust-lang.org/", "Rust")]
    with serve(searx.app()) as server:
        ...  # SEARCHQA_SEARCH__SEARXNG_URL=server.url

Queries not in ``by_query`` get ``results``. Knobs (plain attributes, change them any time):
``status`` (e.g. 429, 403, 500: answer that status with SearXNG's body), ``json_disabled``
(403 like an instance without ``json`` in ``search.formats``), ``delay_s`` (answer late),
``hang`` (never answer), ``malformed`` (truncated JSON), ``unresponsive`` (SearXNG's
``unresponsive_engines`` pairs). A request without ``format=json`` also gets the 403.
``requests`` records every query's parameters.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web


def searx_result(
    url: str,
    title: str,
    content: str = "",
    *,
    engine: str = "duckduckgo",
    published: str | None = None,
    position: int = 1,
) -> dict[str, Any]:
    """One entry of ``results`` as SearXNG's JSON output writes it."""
    parts = urlsplit(url)
    return {
        "url": url,
        "title": title,
        "content": content,
        "engine": engine,
        "template": "default.html",
        "parsed_url": [parts.scheme, parts.netloc, parts.path, "", parts.query, parts.fragment],
        "img_src": "",
        "thumbnail": "",
        "priority": "",
        "engines": [engine],
        "positions": [position],
        "score": 1.0 / position,
        "category": "general",
        "publishedDate": published,
    }


class FakeSearxng:
    """State and knobs of one fake SearXNG instance; ``app()`` builds its server."""

    def __init__(
        self,
        results: Sequence[Mapping[str, Any]] = (),
        *,
        by_query: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    ) -> None:
        self.results: list[Mapping[str, Any]] = list(results)
        self.by_query: dict[str, Sequence[Mapping[str, Any]]] = dict(by_query or {})
        self.status = 200
        self.json_disabled = False
        self.delay_s = 0.0
        self.hang = False
        self.malformed = False
        self.unresponsive: list[tuple[str, str]] = []
        self.requests: list[dict[str, str]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/search", self._search)
        app.router.add_route("*", "/", self._search)
        return app

    async def _search(self, request: web.Request) -> web.StreamResponse:
        params = dict(request.query)
        if request.method == "POST":
            params.update({k: str(v) for k, v in (await request.post()).items()})
        self.requests.append(params)
        if self.hang:
            await asyncio.sleep(3600)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.status == 429:
            return web.Response(status=429, text="Too Many Requests")
        if self.json_disabled or self.status == 403 or params.get("format") != "json":
            return web.Response(status=403, text=_FORBIDDEN, content_type="text/html")
        if self.status != 200:
            return web.Response(status=self.status, text="Internal Server Error")
        query = params.get("q", "")
        results = list(self.by_query.get(query, self.results))
        body = json.dumps(
            {
                "query": query,
                "number_of_results": 0,
                "results": results,
                "answers": [],
                "corrections": [],
                "infoboxes": [],
                "suggestions": [],
                "unresponsive_engines": [list(pair) for pair in self.unresponsive],
            }
        )
        if self.malformed:
            body = body[: len(body) // 2]
        return web.Response(text=body, content_type="application/json")


_FORBIDDEN = (
    "<!doctype html><html lang=en><title>403 Forbidden</title><h1>Forbidden</h1>"
    "<p>You don't have the permission to access the requested resource.</p>"
)
