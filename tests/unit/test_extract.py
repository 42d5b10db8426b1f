"""Main-text extraction: boilerplate out, title, date and paragraphs kept, off the event loop."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from searchqa.documents import FetchedPage
from searchqa.steps.extract import ExtractedText, PageExtractor, extract_main_text

FIXTURES = Path(__file__).parent.parent / "fixtures" / "extract"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def html_page(name: str, url: str = "https://news.example.com/city/harbor-bridge") -> FetchedPage:
    return FetchedPage(url=url, requested_url=url, text=fixture(name), content_type="text/html")


def test_article_keeps_title_date_and_paragraphs_without_boilerplate() -> None:
    extracted = extract_main_text(fixture("news_article.html"), "https://news.example.com/a")

    assert extracted is not None
    assert extracted.title == "Harbor Bridge Reopens After Two-Year Retrofit"
    assert extracted.published == "2024-03-18"
    paragraphs = extracted.text.split("\n\n")
    assert paragraphs[0].startswith("The Harbor Bridge reopened to traffic on Monday morning")
    assert "New lanes for cyclists" in paragraphs
    assert paragraphs[-1].startswith("Tolls will remain unchanged at 4 dollars")
    assert len(paragraphs) == 6
    for boilerplate in (
        "cookies",  # consent banner
        "Subscribe for $1",  # navigation
        "Refinance your mortgage",  # ad slots
        "outdoor furniture",
        "Most read",  # sidebar
        "Share on",
        "tunnel detour was a nightmare",  # reader comments
        "All rights reserved",  # footer
        "Privacy policy",
    ):
        assert boilerplate not in extracted.text


def test_chinese_article_keeps_its_paragraphs_and_drops_the_page_furniture() -> None:
    extracted = extract_main_text(fixture("chinese_article.html"), "https://tech.example.cn/a/1")

    assert extracted is not None
    assert extracted.title == "我国首座深远海浮式风电平台并网发电"
    assert extracted.published == "2023-05-20"
    paragraphs = extracted.text.split("\n\n")
    assert any(p.startswith("5月20日，我国首座水深超过100米") for p in paragraphs)
    assert paragraphs[-1].startswith("下一步，相关单位将围绕降低建造成本")
    assert "每年可发电约2200万千瓦时" in extracted.text
    for boilerplate in ("限时特惠", "热门推荐", "版权所有", "下载客户端", "分享到"):
        assert boilerplate not in extracted.text


def test_forum_thread_keeps_the_posts() -> None:
    extracted = extract_main_text(fixture("forum_thread.html"), "https://forum.example.org/t/9")

    assert extracted is not None
    assert extracted.title == "Boiler pressure keeps dropping overnight"
    assert "The usual culprit is the pressure relief valve" in extracted.text
    assert "pressure has held at 1.3 bar" in extracted.text
    assert "Log in" not in extracted.text


def test_question_page_keeps_question_and_answers() -> None:
    extracted = extract_main_text(fixture("qa_thread.html"), "https://dev.example.com/q/42")

    assert extracted is not None
    assert extracted.title == "How do I undo the last git commit but keep my changes?"
    assert extracted.published == "2022-11-03"
    assert extracted.text.startswith("I committed to the wrong branch.")
    assert "git reset --soft HEAD~1" in extracted.text
    assert "the index is reset" in extracted.text
    assert "Ask a question" not in extracted.text
    assert "CC BY-SA" not in extracted.text


def test_publication_date_comes_from_markup_not_from_years_in_the_prose() -> None:
    body = (
        "<html><body><article><p>Turnout in the 2024 election was the highest the county has "
        "seen, officials said, with long queues at most polling stations.</p></article>"
        "</body></html>"
    )

    undated = extract_main_text(body, "https://example.org/turnout")
    dated = extract_main_text(body, "https://example.org/2023/07/14/turnout")

    assert undated is not None
    assert undated.published is None
    assert dated is not None
    assert dated.published == "2023-07-14"


def test_plain_text_passes_through_with_its_paragraphs() -> None:
    body = (
        "Release notes\r\n\r\n\r\nVersion 2.1 fixes the login bug.  \r\n"
        "It also adds dark mode.\r\n\r\nThanks to all contributors."
    )

    extracted = extract_main_text(
        body, "https://example.org/notes.txt", "text/plain; charset=utf-8"
    )

    assert extracted == ExtractedText(
        title="",
        text="Release notes\n\nVersion 2.1 fixes the login bug.\nIt also adds dark mode.\n\n"
        "Thanks to all contributors.",
        published=None,
    )


def test_markdown_heading_becomes_the_title() -> None:
    body = "# Installing the CLI\n\nRun `pip install searchqa`, then `searchqa ask`.\n"

    extracted = extract_main_text(body, "https://example.org/README.md", "text/markdown")

    assert extracted is not None
    assert extracted.title == "Installing the CLI"
    assert extracted.text == "Run `pip install searchqa`, then `searchqa ask`."


@pytest.mark.parametrize(
    "body",
    [
        "",
        "   \n  ",
        "<html></html>",
        "<html><head><title>Home</title></head><body><nav><a href='/'>Home</a></nav></body></html>",
        "\x00\x01\x02\xff\xfe",
        fixture("garbage.html"),  # a script-only app shell with a <noscript> notice
    ],
    ids=["empty", "blank", "empty-html", "nav-only", "binary", "app-shell"],
)
def test_pages_without_readable_text_give_none(body: str) -> None:
    assert extract_main_text(body, "https://example.org/") is None


# Worker functions: top-level, so the worker processes can import them.


def extract_or_crash(body: str, url: str, content_type: str) -> ExtractedText | None:
    if "CRASH" in body:
        os._exit(1)
    return extract_main_text(body, url, content_type)


def extract_once_the_loop_answers(body: str, url: str, content_type: str) -> ExtractedText | None:
    """Waits for a file that only the event loop creates, after the extraction was submitted."""
    signal = Path(parse_qs(urlsplit(url).query)["signal"][0])
    deadline = time.monotonic() + 10
    while not signal.exists():
        if time.monotonic() > deadline:
            return None
        time.sleep(0.01)
    return extract_main_text(body, url, content_type)


@pytest.fixture(scope="module")
def extractor() -> Iterator[PageExtractor]:
    with PageExtractor(workers=1) as shared:
        yield shared


async def test_extractor_builds_a_page_in_a_worker(extractor: PageExtractor) -> None:
    fetched = html_page("news_article.html", "https://news.example.com/city/harbor-bridge")

    page = await extractor.extract(
        fetched,
        fallback_title="Harbor Bridge | Coastline",
        snippet="The bridge reopened",
        published="2024-03-19",
    )

    assert page is not None
    assert page.url == "https://news.example.com/city/harbor-bridge"
    assert page.title == "Harbor Bridge Reopens After Two-Year Retrofit"
    assert page.published == "2024-03-18"  # the page's own date wins over the search hit's
    assert page.snippet == "The bridge reopened"
    assert "protected cycle lane" in page.text


async def test_extractor_falls_back_to_the_hits_title_and_date(extractor: PageExtractor) -> None:
    fetched = FetchedPage(
        url="https://example.org/notes.txt",
        requested_url="https://example.org/notes",
        text="The ferry timetable changes on 1 June: boats leave every 40 minutes.",
        content_type="text/plain",
    )

    page = await extractor.extract(
        fetched, fallback_title="Ferry timetable", published="2024-05-20"
    )

    assert page is not None
    assert (page.title, page.published) == ("Ferry timetable", "2024-05-20")


async def test_extractor_returns_none_for_pages_without_text(extractor: PageExtractor) -> None:
    assert await extractor.extract(html_page("garbage.html")) is None


async def test_extraction_leaves_the_event_loop_free(tmp_path: Path) -> None:
    signal = tmp_path / "loop-ran"
    url = f"https://news.example.com/a?signal={signal}"
    async with PageExtractor(workers=1, extract=extract_once_the_loop_answers) as slow:
        extraction = asyncio.create_task(slow.extract(html_page("news_article.html", url)))
        await asyncio.sleep(0)  # the extraction is submitted; it now waits for the loop
        await asyncio.to_thread(signal.touch)

        page = await extraction

    assert page is not None
    assert page.title == "Harbor Bridge Reopens After Two-Year Retrofit"


async def test_a_crashed_worker_fails_its_page_and_the_pool_recovers() -> None:
    crashing = FetchedPage(
        url="https://evil.example/", requested_url="https://evil.example/",
        text="<html><body><p>CRASH</p></body></html>", content_type="text/html",
    )  # fmt: skip
    async with PageExtractor(workers=1, extract=extract_or_crash) as extractor:
        assert await extractor.extract(crashing) is None

        page = await extractor.extract(html_page("chinese_article.html"))

    assert page is not None
    assert page.title == "我国首座深远海浮式风电平台并网发电"
