"""Questions become index terms and safe FTS5 queries; documents become searchable terms."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from searchqa.index.store import IndexedDocument, IndexStore
from searchqa.index.tokenize import (
    MAX_QUERY_TERMS,
    cjk_grams,
    index_text,
    match_expression,
    query_terms,
)

HOSTILE_QUERIES = [
    '"',
    '""',
    '"unterminated',
    "*",
    "go*",
    "NEAR(",
    "NEAR(a b, 2)",
    "AND OR NOT",
    "a AND",
    "NOT",
    "-",
    "-go",
    ":",
    "^",
    "^go",
    "title:x",
    "body:go",
    "{title body}:go",
    "(((",
    ")",
    "go (ai",
    "\x00",
    "go\x00ai",
    "😀",
    "🤖 AI 🚀",
    "x" * 100_000,
    "go " * 5_000,
    "天" * 10_000,
    "'; DROP TABLE documents; --",
    "\x02go\x03",
    "+ - / \\ | & ~ ` @ # $ % = < > ?",
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexStore]:
    path: Path = tmp_path_factory.mktemp("index") / "index.sqlite3"
    store = IndexStore.open_writer(path)
    docs = [
        ("file:///go.md", "Go", "Go has goroutines and channels. AI tooling too."),
        ("file:///zh.md", "北京天气", "今天北京的天气很好，适合出门。"),
        ("file:///not.md", "Operators", 'NEAR AND OR NOT title body "quoted" text'),
    ]
    for url, title, text in docs:
        store.upsert(IndexedDocument(url, "/", title, text, content_hash=url))
    store.commit()
    yield store
    store.close()


def test_english_stop_words_are_dropped_but_short_content_words_stay() -> None:
    terms = query_terms("What is the Go runtime and how does AI use it in C or R?")

    assert terms.words == ("go", "runtime", "ai", "use", "c", "r")
    assert terms.grams == ()


def test_a_question_of_only_stop_words_keeps_them() -> None:
    assert query_terms("What is it?").words == ("what", "is", "it")


def test_chinese_runs_become_overlapping_bigrams() -> None:
    assert query_terms("北京天气").grams == ("北京", "京天", "天气")


def test_a_single_chinese_character_is_its_own_term() -> None:
    assert query_terms("天").grams == ("天",)


def test_chinese_question_words_are_dropped_when_topic_words_remain() -> None:
    grams = query_terms("北京天气怎么样").grams

    assert "天气" in grams
    assert "北京" in grams
    assert "怎么" not in grams


def test_mixed_latin_and_chinese_split_at_the_script_boundary() -> None:
    terms = query_terms("使用Go语言")

    assert terms.words == ("go",)
    assert terms.grams == ("使用", "语言")


def test_documents_get_unigrams_and_bigrams_of_cjk_runs() -> None:
    assert cjk_grams("AI 天气好") == "天 气 好 天气 气好"


def test_index_text_separates_scripts_so_embedded_words_are_searchable() -> None:
    assert index_text("使用Go语言, AI技术") == "使用 Go 语言, AI 技术"


def test_query_terms_are_capped() -> None:
    terms = query_terms(" ".join(f"word{i}" for i in range(500)))

    assert len(terms.words) == MAX_QUERY_TERMS


@pytest.mark.parametrize("query", ["", "   ", "?!", "😀🎉", "\x00\x01", "《》，。"])
def test_text_without_terms_gives_no_query(query: str) -> None:
    assert match_expression(query_terms(query)) is None


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_hostile_text_never_breaks_the_query(store: IndexStore, query: str) -> None:
    match = match_expression(query_terms(query))

    if match is not None:
        store.search(match, 5)


def test_operator_words_are_searched_as_words(store: IndexStore) -> None:
    match = match_expression(query_terms("NEAR(quoted"))
    assert match is not None

    assert [hit.url for hit in store.search(match, 5)] == ["file:///not.md"]


def test_column_filter_syntax_is_not_obeyed(store: IndexStore) -> None:
    # As a filter this would search titles only, where "goroutines" never appears.
    match = match_expression(query_terms("title:goroutines"))
    assert match is not None

    assert store.search(match, 5)[0].url == "file:///go.md"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_never_raises(store: IndexStore, text: str) -> None:
    match = match_expression(query_terms(text))

    if match is not None:
        store.search(match, 3)


FTS_PIECES = [
    '"',
    "*",
    "(",
    ")",
    "^",
    ":",
    "-",
    "+",
    "{",
    "}",
    " ",
    "AND",
    "OR",
    "NOT",
    "NEAR",
    "title",
    "body_cjk",
    "go",
    "天气",
    "\x00",
    ",",
    "'",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FTS_PIECES), max_size=40).map("".join))
def test_fts_syntax_soup_never_raises(store: IndexStore, text: str) -> None:
    match = match_expression(query_terms(text))

    if match is not None:
        store.search(match, 3)
