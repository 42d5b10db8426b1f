"""What the indexer reads out of files and sitemaps, and the snippets it shows."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from searchqa.files import parse_plain_document
from searchqa.index.crawl import robots_agent
from searchqa.index.sitemap import parse_sitemap
from searchqa.index.snippet import make_snippet
from searchqa.index.store import MATCH_END, MATCH_START
from searchqa.settings import FetchSettings


def mark(word: str) -> str:
    return f"{MATCH_START}{word}{MATCH_END}"


def test_markdown_front_matter_gives_title_and_date() -> None:
    doc = parse_plain_document(
        '---\ntitle: "Release notes"\ndate: 2024-05-02\n---\n# v2\n\nFaster.\n', "notes.md"
    )

    assert (doc.title, doc.published) == ("Release notes", "2024-05-02")
    assert doc.text == "# v2\n\nFaster."


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("Intro line\n\n## Setup ##\n\nbody", "Setup"),
        ("Overview\n========\n\nbody\n\n# Later", "Overview"),
        ("=====\nGuide\n=====\n\nbody", "Guide"),
        ("just some text\nwith no heading", "file.txt"),
    ],
)
def test_title_is_the_first_heading_or_the_file_name(text: str, title: str) -> None:
    assert parse_plain_document(text, "file.txt").title == title


def test_urlset_locations_are_unescaped() -> None:
    sitemap = parse_sitemap(
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc> https://a.example/?x=1&amp;y=2 </loc>"
        "<image:image><image:loc>https://a.example/cat.png</image:loc></image:image></url>"
        "<url><loc><![CDATA[https://a.example/b]]></loc></url></urlset>"
    )

    assert sitemap is not None
    assert sitemap.kind == "urlset"
    assert sitemap.locations == ["https://a.example/?x=1&y=2", "https://a.example/b"]


def test_sitemap_index_is_recognised() -> None:
    sitemap = parse_sitemap(
        "<sitemapindex><sitemap><loc>https://a.example/s1.xml</loc></sitemap></sitemapindex>"
    )

    assert sitemap is not None
    assert (sitemap.kind, sitemap.locations) == ("sitemapindex", ["https://a.example/s1.xml"])


def test_a_web_page_is_not_a_sitemap() -> None:
    assert parse_sitemap("<html><body><p>urlset</p></body></html>") is None


def test_robots_rules_are_matched_on_our_product_token() -> None:
    assert robots_agent(FetchSettings().user_agent) == "searchqa"
    assert robots_agent("mybot/2.0 (+https://example.org)") == "mybot"


def test_snippet_is_the_window_where_distinct_terms_cluster() -> None:
    filler = "Nothing to see in this sentence at all. " * 20
    body = (
        f"{mark('Tides')} are mentioned once here. {filler}"
        f"The {mark('harbour')} master reads the {mark('tide')} tables. {filler}"
    )

    snippet = make_snippet(body, ())

    assert "harbour master reads the tide tables" in snippet
    assert snippet.startswith("…")
    assert snippet.endswith("…")
    assert "Tides are mentioned" not in snippet


def test_snippet_finds_cjk_terms_and_falls_back_to_the_opening() -> None:
    body = "开头的一段话。" * 30 + "末班车在晚上十一点发出。" + "结尾。" * 30

    assert "末班车" in make_snippet(body, ("末班", "班车"))
    assert make_snippet(body, ()).startswith("开头的一段话")


@given(
    st.lists(st.tuples(st.text(max_size=60), st.booleans()), max_size=30),
    st.lists(st.text(min_size=1, max_size=3), max_size=4),
)
def test_any_marked_body_gives_a_bounded_snippet(
    pieces: list[tuple[str, bool]], grams: list[str]
) -> None:
    body = "".join(mark(text) if marked else text for text, marked in pieces)

    snippet = make_snippet(body, grams, width=80)

    assert len(snippet) <= 82
