"""The local index end to end: index real files and a real local website, then search them."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from searchqa.documents import SearchHit
from searchqa.engines.local import LocalEngine
from searchqa.errors import SearchError
from searchqa.index.build import IndexReport, index_sources
from searchqa.settings import FetchSettings, IndexSettings, Settings
from tests.fakes.server import BackgroundServer, serve

FIXTURES = Path(__file__).parent.parent / "fixtures" / "docs"
FIXTURE_COUNT = 7


def make_settings(index_path: Path) -> Settings:
    return Settings(
        index=IndexSettings(path=index_path),
        fetch=FetchSettings(allow_hosts=["127.0.0.1"], page_timeout_s=5.0, extract_workers=1),
    )


def index(sources: list[str | Path], settings: Settings, delay_s: float = 0.0) -> IndexReport:
    return asyncio.run(
        index_sources([str(s) for s in sources], settings=settings, crawl_delay_s=delay_s)
    )


def search(engine: LocalEngine, query: str, max_results: int = 5) -> list[SearchHit]:
    return asyncio.run(engine.search(query, language="en", max_results=max_results))


def names(hits: list[SearchHit]) -> list[str]:
    return [hit.url.rsplit("/", 1)[-1] for hit in hits]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalEngine, Path]:
    """The fixture documents, indexed once for the tests that only read."""
    root = tmp_path_factory.mktemp("indexed")
    docs = root / "docs"
    shutil.copytree(FIXTURES, docs)
    settings = make_settings(root / "index.sqlite3")
    report = index([docs], settings)
    assert (report.added, report.failed) == (FIXTURE_COUNT, 0), report
    return LocalEngine(settings.index), docs


@pytest.fixture
def engine(indexed: tuple[LocalEngine, Path]) -> LocalEngine:
    return indexed[0]


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    target = tmp_path / "docs"
    shutil.copytree(FIXTURES, target)
    return target


# Finding things


def test_chinese_questions_find_chinese_documents(engine: LocalEngine) -> None:
    assert names(search(engine, "北京天气怎么样？"))[0] == "beijing-weather.md"
    assert names(search(engine, "天气"))[0] == "beijing-weather.md"
    assert names(search(engine, "上海地铁什么时候最拥挤"))[0] == "shanghai-metro.html"


def test_two_character_chinese_word_inside_a_sentence_matches(engine: LocalEngine) -> None:
    # 高峰 sits mid-sentence in the page: "早晚高峰时段车厢非常拥挤".
    assert names(search(engine, "高峰")) == ["shanghai-metro.html"]


def test_a_single_chinese_character_finds_documents(engine: LocalEngine) -> None:
    assert "beijing-weather.md" in names(search(engine, "冬"))


def test_short_terms_ai_and_go_match(engine: LocalEngine) -> None:
    assert names(search(engine, "AI"))[0] == "artificial-intelligence.html"
    assert names(search(engine, "Go"))[0] == "go-language.md"
    # The Chinese note writes them glued to Chinese text: "Go语言", "（AI）领域".
    assert "programming.txt" in names(search(engine, "AI"))
    assert "programming.txt" in names(search(engine, "Go"))


def test_a_natural_language_question_matches_on_some_of_its_words(engine: LocalEngine) -> None:
    hits = search(engine, "How do goroutines talk to each other in Golang?")

    assert names(hits)[0] == "go-language.md"


def test_english_words_match_their_inflections(engine: LocalEngine) -> None:
    assert names(search(engine, "goroutine communicating"))[0] == "go-language.md"
    assert "tomatoes.txt" in names(search(engine, "tomato"))


def test_hits_carry_file_url_title_and_date(indexed: tuple[LocalEngine, Path]) -> None:
    engine, docs = indexed
    hit = search(engine, "goroutines")[0]

    assert hit.url == (docs / "en" / "go-language.md").resolve().as_uri()
    assert hit.title == "The Go Programming Language"
    assert hit.published == "2024-03-01"
    assert hit.engine == "local"


def test_html_pages_are_indexed_without_their_boilerplate(engine: LocalEngine) -> None:
    hit = search(engine, "machine learning")[0]

    assert hit.title == "AI: a short overview"
    assert search(engine, "Copyright rights reserved") == []


def test_snippet_comes_from_the_matched_text_not_the_head(engine: LocalEngine) -> None:
    hit = search(engine, "photosynthesis")[0]

    assert hit.title == "Kitchen notes"
    assert "Photosynthesis" in hit.snippet
    assert "Keep knives sharp" not in hit.snippet


def test_chinese_snippet_comes_from_the_matched_text(engine: LocalEngine) -> None:
    hit = search(engine, "末班车")[0]

    assert "末班车" in hit.snippet
    assert not hit.snippet.startswith("上海地铁是")


def test_a_title_match_outranks_a_passing_mention(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "starter.md").write_text(
        "---\ntitle: Sourdough starter\n---\n"
        "Feed the jar with equal weights of flour and water every day and keep it "
        "somewhere warm until it doubles after feeding.\n"
    )
    (docs / "bakery.md").write_text(
        "# A history of the corner bakery\n\nThe bakery opened in 1921. Its ovens turned out "
        "rye loaves, pastries, sourdough and cakes, and the queue reached the corner by dawn. "
        "Sourdough came later.\n"
    )
    (docs / "bread.md").write_text("# Bread basics\n\nBread needs flour, water, salt, yeast.\n")
    settings = make_settings(tmp_path / "index.sqlite3")
    index([docs], settings)

    assert names(search(LocalEngine(settings.index), "sourdough")) == ["starter.md", "bakery.md"]


def test_max_results_caps_the_hits(engine: LocalEngine) -> None:
    assert len(search(engine, "the language of AI and Go", max_results=2)) == 2


# Hostile or empty questions


@pytest.mark.parametrize(
    "query",
    ['"', "*", "NEAR(", "AND OR NOT", "-", ":", "^", "title:x", "((", "\x00", "🤖", "x" * 50_000],
)
def test_hostile_queries_never_raise(engine: LocalEngine, query: str) -> None:
    search(engine, query)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=200))
def test_arbitrary_questions_never_raise(indexed: tuple[LocalEngine, Path], text: str) -> None:
    search(indexed[0], text)


def test_missing_index_finds_nothing_and_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "index.sqlite3"

    assert search(LocalEngine(IndexSettings(path=path)), "anything") == []
    assert not path.exists()


def test_empty_database_finds_nothing(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite3"
    sqlite3.connect(path).close()

    assert search(LocalEngine(IndexSettings(path=path)), "anything") == []


def test_corrupt_database_is_a_search_error(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite3"
    path.write_bytes(b"this is not a database" * 200)

    with pytest.raises(SearchError):
        search(LocalEngine(IndexSettings(path=path)), "anything")


async def test_search_runs_off_the_event_loop(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite3"
    await index_sources([str(FIXTURES / "en" / "go-language.md")], settings=make_settings(path))
    # Another connection holds the database locked, so the search has to wait for it.
    holder = sqlite3.connect(path, check_same_thread=False)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    search_task = asyncio.create_task(
        LocalEngine(IndexSettings(path=path)).search("goroutines", language="en", max_results=3)
    )
    ticks = 0
    for _ in range(5):
        await asyncio.sleep(0.02)
        ticks += 1
    assert ticks == 5
    assert not search_task.done()  # blocked on the lock, yet the loop kept running

    holder.execute("ROLLBACK")
    holder.close()
    hits = await search_task
    assert [hit.title for hit in hits] == ["The Go Programming Language"]


# Re-indexing


def test_reindexing_unchanged_files_changes_nothing(tmp_path: Path, docs: Path) -> None:
    settings = make_settings(tmp_path / "index.sqlite3")
    index([docs], settings)

    again = index([docs], settings)

    assert (again.added, again.updated, again.unchanged, again.removed) == (0, 0, FIXTURE_COUNT, 0)


def test_reindexing_updates_changed_files_and_drops_deleted_ones(
    tmp_path: Path, docs: Path
) -> None:
    settings = make_settings(tmp_path / "index.sqlite3")
    engine = LocalEngine(settings.index)
    index([docs], settings)
    (docs / "en" / "tomatoes.txt").write_text("Growing zucchini\n\nZucchini plants sprawl.\n")
    (docs / "en" / "go-language.md").unlink()

    report = index([docs], settings)

    assert (report.added, report.updated, report.removed) == (0, 1, 1)
    assert report.unchanged == FIXTURE_COUNT - 2
    assert names(search(engine, "zucchini")) == ["tomatoes.txt"]
    assert "tomatoes.txt" not in names(search(engine, "burying the stem"))
    assert search(engine, "goroutines") == []


def test_a_folder_reindex_leaves_documents_of_other_folders_alone(
    tmp_path: Path, docs: Path
) -> None:
    settings = make_settings(tmp_path / "index.sqlite3")
    index([docs / "en", docs / "zh"], settings)
    (docs / "en" / "tomatoes.txt").unlink()

    report = index([docs / "en"], settings)

    assert report.removed == 1
    assert names(search(LocalEngine(settings.index), "天气"))[0] == "beijing-weather.md"


def test_single_files_and_missing_sources(tmp_path: Path, docs: Path) -> None:
    settings = make_settings(tmp_path / "index.sqlite3")
    seen: list[tuple[str, str]] = []

    report = asyncio.run(
        index_sources(
            [str(docs / "zh" / "programming.txt"), str(tmp_path / "missing.md")],
            settings=settings,
            progress=lambda outcome, detail: seen.append((outcome, detail)),
        )
    )

    assert (report.added, report.failed, report.failures) == (1, 1, {"not_found": 1})
    assert [outcome for outcome, _ in seen] == ["added", "failed"]
    assert names(search(LocalEngine(settings.index), "机器学习")) == ["programming.txt"]


# A small website: robots.txt, nested sitemap indexes, a page that goes away


@dataclass
class FakeSite:
    pages: dict[str, str]
    requests: list[tuple[float, str, str]] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    """Paths that answer with an error status instead of their page."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> web.Application:
        async def handle(request: web.Request) -> web.Response:
            with self.lock:
                self.requests.append(
                    (time.monotonic(), request.path, request.headers.get("User-Agent", ""))
                )
            if request.path in self.statuses:
                return web.Response(status=self.statuses[request.path])
            body = self.pages.get(request.path)
            if body is None:
                return web.Response(status=404)
            if request.path.endswith(".xml"):
                return web.Response(text=body, content_type="application/xml")
            kind = "text/plain" if request.path.endswith(".txt") else "text/html"
            return web.Response(text=body, content_type=kind)

        app = web.Application()
        app.router.add_get("/{tail:.*}", handle)
        return app

    def paths(self) -> list[str]:
        return [path for _, path, _ in self.requests]


def html_page(title: str, text: str) -> str:
    return (
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        f"<p>{text}</p></article></body></html>"
    )


def sitemap_index(*locs: str) -> str:
    items = "".join(f"<sitemap><loc>{loc}</loc></sitemap>" for loc in locs)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{items}</sitemapindex>'
    )


def urlset(*locs: str) -> str:
    items = "".join(f"<url><loc>{loc}</loc><lastmod>2024-01-01</lastmod></url>" for loc in locs)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{items}</urlset>'
    )


@pytest.fixture
def site() -> Iterator[tuple[FakeSite, BackgroundServer]]:
    fake = FakeSite(pages={})
    with serve(fake.app()) as server:
        base = server.url
        fake.pages.update(
            {
                "/robots.txt": (
                    "User-agent: otherbot\nDisallow: /\n\n"
                    "User-agent: searchqa\nDisallow: /private/\n"
                ),
                "/sitemap.xml": sitemap_index(f"{base}/maps/news.xml", "/maps/more-index.xml"),
                "/maps/news.xml": urlset(
                    f"{base}/pages/alpha.html",
                    f"{base}/private/secret.html",
                    f"{base}/pages/old.html",
                ),
                "/maps/more-index.xml": sitemap_index(f"{base}/maps/guides.xml"),
                "/maps/guides.xml": urlset(
                    f"{base}/pages/beta.html",
                    "https://elsewhere.example/pages/foreign.html",
                    f"{base}/pages/alpha.html?ref=a&amp;b=1",
                ),
                "/pages/alpha.html": html_page(
                    "Alpha lighthouse", "The alpha lighthouse keeper logs every passing ship."
                ),
                "/pages/beta.html": html_page(
                    "贝塔指南", "这是一份关于长江游船的指南，介绍船票、航线和沿途风景。"
                ),
                "/pages/old.html": html_page(
                    "Old ferry timetable", "The old ferry timetable lists departures at dawn."
                ),
                "/private/secret.html": html_page(
                    "Secret", "Confidential quarterly numbers that robots must not read."
                ),
                "/notes/harbour.html": html_page(
                    "Harbour notes", "Harbour notes about mooring ropes and tide tables."
                ),
            }
        )
        yield fake, server


def test_sitemap_crawl_honours_robots_and_follows_nested_indexes(
    tmp_path: Path, site: tuple[FakeSite, BackgroundServer]
) -> None:
    fake, server = site
    settings = make_settings(tmp_path / "index.sqlite3")
    engine = LocalEngine(settings.index)

    report = index([f"{server.url}/sitemap.xml"], settings)

    assert report.added == 4  # alpha, alpha?ref=..., beta (two index levels down), old
    assert report.failures == {"robots_disallowed": 1}
    assert "/private/secret.html" not in fake.paths()
    assert all(agent == settings.fetch.user_agent for _, _, agent in fake.requests)
    assert search(engine, "Confidential quarterly numbers") == []
    hits = search(engine, "lighthouse keeper")
    assert hits[0].url.startswith(f"{server.url}/pages/alpha.html")
    assert "lighthouse keeper" in hits[0].snippet
    assert search(engine, "长江游船")[0].url == f"{server.url}/pages/beta.html"


def test_a_page_that_now_answers_404_is_removed_on_reindex(
    tmp_path: Path, site: tuple[FakeSite, BackgroundServer]
) -> None:
    fake, server = site
    settings = make_settings(tmp_path / "index.sqlite3")
    engine = LocalEngine(settings.index)
    index([f"{server.url}/sitemap.xml"], settings)
    assert names(search(engine, "ferry timetable")) == ["old.html"]

    fake.statuses["/pages/old.html"] = 404
    fake.pages["/maps/news.xml"] = urlset(f"{server.url}/pages/alpha.html")
    report = index([f"{server.url}/sitemap.xml"], settings)

    assert report.removed == 1
    assert report.unchanged == 3
    assert search(engine, "ferry timetable") == []
    assert names(search(engine, "lighthouse keeper"))[0] == "alpha.html"


def test_a_single_page_is_indexed_and_removed_once_gone(
    tmp_path: Path, site: tuple[FakeSite, BackgroundServer]
) -> None:
    fake, server = site
    settings = make_settings(tmp_path / "index.sqlite3")
    engine = LocalEngine(settings.index)
    url = f"{server.url}/notes/harbour.html"

    assert index([url], settings).added == 1
    assert [hit.url for hit in search(engine, "mooring ropes")] == [url]

    fake.statuses["/notes/harbour.html"] = 410
    assert index([url], settings).removed == 1
    assert search(engine, "mooring ropes") == []


@pytest.mark.parametrize(
    ("robots_status", "outcome"),
    [(404, "added"), (403, "added"), (503, "robots_unreachable")],
)
def test_robots_txt_errors_are_read_as_rfc_9309_says(
    tmp_path: Path, site: tuple[FakeSite, BackgroundServer], robots_status: int, outcome: str
) -> None:
    fake, server = site
    fake.statuses["/robots.txt"] = robots_status

    report = index([f"{server.url}/pages/alpha.html"], make_settings(tmp_path / "i.sqlite3"))

    assert report.added == (outcome == "added")
    assert report.failures == ({} if outcome == "added" else {outcome: 1})
    assert ("/pages/alpha.html" in fake.paths()) == (outcome == "added")


def test_a_page_that_fails_otherwise_is_kept(
    tmp_path: Path, site: tuple[FakeSite, BackgroundServer]
) -> None:
    fake, server = site
    settings = make_settings(tmp_path / "index.sqlite3")
    url = f"{server.url}/pages/alpha.html"
    index([url], settings)

    fake.statuses["/pages/alpha.html"] = 500
    report = index([url], settings)

    assert (report.removed, report.failures) == (0, {"http_status": 1})
    assert names(search(LocalEngine(settings.index), "lighthouse")) == ["alpha.html"]


def test_requests_to_one_host_are_spaced_out(
    tmp_path: Path, site: tuple[FakeSite, BackgroundServer]
) -> None:
    fake, server = site

    index([f"{server.url}/sitemap.xml"], make_settings(tmp_path / "index.sqlite3"), delay_s=0.1)

    times = sorted(at for at, _, _ in fake.requests)
    assert len(times) >= 8
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.09
