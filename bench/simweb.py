"""A simulated web for the benchmarks: article pages with heavy-tailed latency, in its own process.

Pages are generated from a seed: realistic article markup (head metadata, JSON-LD, navigation,
the article, teaser cards, footer, inline script state) of a chosen size, with words taken from
the fixture pages in ``tests/fakes/pages``, served gzipped when asked. Each page answers after a
latency drawn from a lognormal distribution; a share of them never answers. The same process
serves a fake SearXNG (under ``/searx``, listing the pages ``WorldConfig.answers`` names for each
question) and optionally a fake SGLang (under ``/llm/v1``), so the process under measurement runs
only searchqa: no server shares its event loop or its GIL.

Also here: the percentile and table helpers the benchmarks report with.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import html
import json
import logging
import math
import multiprocessing
import random
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Literal

from aiohttp import web

from searchqa.settings import FetchSettings, LLMSettings, SearchSettings, Settings
from tests.fakes.searxng import FakeSearxng, searx_result
from tests.fakes.sglang import FakeSGLang
from tests.fakes.web import PAGES_DIR

KB = 1024
HANG_S = 3600.0
_MARKUP = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.S)
_ENGLISH_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{1,}")
_CHINESE_CLAUSE = re.compile(r"[\u4e00-\u9fff]{3,}")


@dataclass(frozen=True, slots=True)
class SimPage:
    """One page of the simulated web."""

    path: str
    size: int
    """Target size of the HTML in bytes (UTF-8)."""
    latency_s: float
    """Delay before the page is sent."""
    hangs: bool
    """Never answers at all."""
    language: Literal["en", "zh"]
    seed: int


def draw_pages(
    count: int,
    *,
    seed: int,
    prefix: str = "page",
    min_kb: float = 5,
    max_kb: float = 200,
    median_latency_s: float = 0.25,
    latency_sigma: float = 1.0,
    hang_rate: float = 0.05,
    zh_share: float = 0.2,
) -> list[SimPage]:
    """``count`` pages: sizes log-uniform in [min_kb, max_kb], lognormal latencies, some hangs."""
    rng = random.Random(seed)
    pages = []
    for number in range(count):
        size = math.exp(rng.uniform(math.log(min_kb * KB), math.log(max_kb * KB)))
        pages.append(
            SimPage(
                path=f"/{prefix}/{number}",
                size=int(size),
                latency_s=rng.lognormvariate(math.log(median_latency_s), latency_sigma),
                hangs=rng.random() < hang_rate,
                language="zh" if rng.random() < zh_share else "en",
                seed=rng.getrandbits(32),
            )
        )
    return pages


@functools.cache
def _vocabulary() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """English words and Chinese clauses from the fixture pages."""
    words: list[str] = []
    clauses: list[str] = []
    for path in sorted(PAGES_DIR.glob("*.html")):
        text = html.unescape(_MARKUP.sub(" ", path.read_text(encoding="utf-8")))
        words += _ENGLISH_WORD.findall(text)
        clauses += _CHINESE_CLAUSE.findall(text)
    return tuple(words), tuple(clauses)


def _sentence(rng: random.Random, language: str, low: int = 8, high: int = 24) -> str:
    words, clauses = _vocabulary()
    if language == "zh":
        return "，".join(rng.choices(clauses, k=max(1, low // 4 + rng.randint(0, 2)))) + "。"
    text = " ".join(rng.choices(words, k=rng.randint(low, high)))
    return text[0].upper() + text[1:] + "."


def _link_list(rng: random.Random, language: str, count: int, css: str) -> str:
    items = "".join(
        f'<li class="{css}-item"><a href="/{css}/{rng.getrandbits(24):x}">'
        f"{html.escape(_sentence(rng, language, 2, 6))}</a></li>"
        for _ in range(count)
    )
    return f'<ul class="{css}">{items}</ul>'


def _card(rng: random.Random, language: str) -> str:
    """A teaser card of the kind that fills sidebars and "more stories" grids."""
    link = f"/story/{rng.getrandbits(32):x}"
    return (
        f'<div class="card card--teaser"><div class="card__media"><a href="{link}">'
        f'<img src="/img/{rng.getrandbits(32):x}.jpg" alt="" loading="lazy" width="320"></a>'
        f'</div><div class="card__body"><div class="card__kicker"><span>'
        f'{html.escape(_sentence(rng, language, 1, 2))}</span></div><h4 class="card__title">'
        f'<a href="{link}">{html.escape(_sentence(rng, language, 4, 9))}</a></h4>'
        f'<p class="card__summary">{html.escape(_sentence(rng, language, 8, 16))}</p>'
        f'<div class="card__meta"><span class="author">'
        f"{html.escape(_sentence(rng, language, 2, 3))}</span></div></div></div>"
    )


def _paragraph(rng: random.Random, language: str) -> str:
    sentences = [html.escape(_sentence(rng, language)) for _ in range(rng.randint(2, 6))]
    if rng.random() < 0.3:
        at = rng.randrange(len(sentences))
        sentences[at] = f'<a href="/topic/{rng.getrandbits(20):x}">{sentences[at]}</a>'
    block = f"<p>{' '.join(sentences)}</p>"
    if rng.random() < 0.1:
        block = f"<h2>{html.escape(_sentence(rng, language, 3, 7))}</h2>" + block
    return block


def article_html(page: SimPage) -> str:
    """The page's HTML: about ``page.size`` bytes, 15-40% of them article text.

    The rest is what surrounds articles on the web: about two thirds markup (navigation,
    teaser cards, footer) and one third inline script state.
    """
    rng = random.Random(page.seed)
    lang = page.language
    title = html.escape(_sentence(rng, lang, 5, 10).rstrip(".。"))
    date = f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    ld = json.dumps({"@type": "NewsArticle", "headline": title, "datePublished": date})
    parts = [
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{title} | '
        f'The Daily Example</title><meta name="description" content="{title}">'
        f'<meta property="article:published_time" content="{date}T08:00:00Z">'
        f'<script type="application/ld+json">{ld}</script><style>'
        + "".join(f".c{n}{{margin:{n}px;color:#{n:03x}}}" for n in range(rng.randint(20, 200)))
        + '</style></head><body><div id="app"><div class="layout">',
        '<header class="site-header"><nav class="menu">'
        + _link_list(rng, lang, rng.randint(5, max(6, min(60, page.size // 1000))), "nav")
        + "</nav></header>",
        f'<main><div class="layout__main"><article><h1>{title}</h1><p class="byline">'
        f'<time datetime="{date}">{date}</time></p><div class="article-body">',
    ]
    target = page.size * rng.uniform(0.15, 0.4)
    written = 0
    while written < target:
        block = _paragraph(rng, lang)
        parts.append(block)
        written += len(block.encode())
    parts.append("</div></article></div>")
    filler = max(0, page.size - sum(len(part.encode()) for part in parts) - 200)
    aside = ['<aside class="layout__side"><h3>More stories</h3><div class="grid">']
    used = 0
    while used < filler * 2 / 3:
        aside.append(_card(rng, lang))
        used += len(aside[-1].encode())
    parts.append("".join(aside) + "</div></aside></main>")
    state = {"items": [rng.getrandbits(64) for _ in range(max(0, filler - used) // 21)]}
    parts.append('<footer class="site-footer"><p>&copy; 2025 The Daily Example</p></footer>')
    parts.append(f"</div></div><script>window.__STATE__={json.dumps(state)}</script></body></html>")
    return "".join(parts)


@dataclass
class WorldConfig:
    """What the simulated-web process serves."""

    pages: list[SimPage] = field(default_factory=list)
    answers: dict[str, list[str]] = field(default_factory=dict)
    """Question -> paths of the pages the fake SearXNG lists for it, best first."""
    llm: FakeSGLang | None = None


@dataclass(frozen=True, slots=True)
class World:
    """A running simulated web."""

    url: str

    @property
    def searxng_url(self) -> str:
        return f"{self.url}/searx"

    @property
    def llm_base_url(self) -> str:
        return f"{self.url}/llm/v1"

    def page_url(self, page: SimPage) -> str:
        return self.url + page.path


def search_results(urls: Sequence[str], *, seed: int) -> list[dict[str, Any]]:
    """SearXNG results for ``urls``, in rank order, with made-up titles and snippets."""
    rng = random.Random(seed)
    return [
        searx_result(url, _sentence(rng, "en", 4, 8), _sentence(rng, "en"), position=rank)
        for rank, url in enumerate(urls, start=1)
    ]


TOPICS = (
    "How do community gardens cool city blocks",
    "What does stale-while-revalidate do in Cache-Control",
    "Why did tourism grow after the high-speed rail opened",
    "Which street trees survive a dry summer",
    "How much does a low-cost temperature logger cost",
)


def assign_pages(pages: Sequence[SimPage], per_question: int) -> dict[str, list[str]]:
    """Distinct questions, each answered by the next ``per_question`` pages (by path)."""
    count = len(pages) // per_question
    return {
        f"{TOPICS[n % len(TOPICS)]}? (case {n})": [
            page.path for page in pages[n * per_question : (n + 1) * per_question]
        ]
        for n in range(count)
    }


def pipeline_settings(
    world: World, *, max_results: int, deadline_s: float, page_timeout_s: float = 4.0
) -> Settings:
    """Settings that point searchqa at ``world``: its SearXNG, its pages, its SGLang."""
    return Settings(
        llm=LLMSettings(base_url=world.llm_base_url),
        search=SearchSettings(
            engines=["searxng"], searxng_url=world.searxng_url, max_results=max_results
        ),
        fetch=FetchSettings(
            allow_hosts=["127.0.0.1"], deadline_s=deadline_s, page_timeout_s=page_timeout_s
        ),
    )


def _world_app(config: WorldConfig, search: FakeSearxng) -> web.Application:
    bodies: dict[str, tuple[bytes, bytes]] = {}
    for page in config.pages:
        raw = article_html(page).encode()
        bodies[page.path] = (raw, gzip.compress(raw, compresslevel=6))
    specs = {page.path: page for page in config.pages}

    async def serve_page(request: web.Request) -> web.Response:
        page = specs.get(request.path)
        if page is None:
            raise web.HTTPNotFound()
        await asyncio.sleep(HANG_S if page.hangs else page.latency_s)
        raw, packed = bodies[page.path]
        headers = {"Content-Type": "text/html; charset=utf-8"}
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            return web.Response(body=packed, headers=headers | {"Content-Encoding": "gzip"})
        return web.Response(body=raw, headers=headers)

    app = web.Application()
    for prefix in sorted({page.path.rsplit("/", 1)[0] for page in config.pages}):
        app.router.add_get(prefix + "/{number}", serve_page)
    app.add_subapp("/searx", search.app())
    if config.llm is not None:
        app.add_subapp("/llm", config.llm.app())
    return app


async def _serve(config: WorldConfig, connection: Connection) -> None:
    search = FakeSearxng()
    runner = web.AppRunner(_world_app(config, search), handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = runner.addresses[0][1]
    for number, (question, paths) in enumerate(config.answers.items()):
        urls = [f"http://127.0.0.1:{port}{path}" for path in paths]
        search.by_query[question] = search_results(urls, seed=number)
    connection.send(port)
    await asyncio.sleep(HANG_S)  # until the parent terminates this process


def _serve_world(config: WorldConfig, connection: Connection) -> None:
    # Clients that hang up mid-stream are part of the script, not errors worth a traceback.
    logging.getLogger("aiohttp").setLevel(logging.CRITICAL)
    asyncio.run(_serve(config, connection))


@contextmanager
def run_world(config: WorldConfig, *, start_timeout_s: float = 60) -> Iterator[World]:
    """Serve ``config`` on 127.0.0.1 from a separate process for the duration of the block."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_serve_world, args=(config, sender), daemon=True)
    process.start()
    try:
        started = time.monotonic()
        while not receiver.poll(0.05):
            if not process.is_alive() or time.monotonic() - started > start_timeout_s:
                raise RuntimeError(f"the simulated web did not start (exit {process.exitcode})")
        yield World(f"http://127.0.0.1:{receiver.recv()}")
    finally:
        process.terminate()
        process.join(timeout=5)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), interpolating between the closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table, as pasted into bench/RESULTS.md."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
