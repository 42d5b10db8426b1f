"""The prompt for a question does not depend on timing: SGLang's radix cache reuses a prompt
only when it comes back token for token, so page order must follow search rank, never the
order in which pages happened to arrive."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import aclosing

import pytest

from searchqa.documents import FetchStats, Page, SearchHit
from searchqa.protocols import ModelInfo
from searchqa.settings import FetchSettings, Settings
from searchqa.steps.compose import compose_search_prompt
from searchqa.steps.extract import PageExtractor
from searchqa.steps.fetch import PageFetcher
from searchqa.steps.read import read_pages
from searchqa.tokens import load_token_counter
from tests.fakes.server import serve
from tests.fakes.web import fake_web_app

QUESTION = "How do community gardens cool city blocks?"
FETCH = FetchSettings(allow_hosts=["127.0.0.1"], page_timeout_s=10, deadline_s=20, quorum=1)


@pytest.fixture(scope="module")
def web_url() -> Iterator[str]:
    with serve(fake_web_app()) as server:
        yield server.url


@pytest.fixture
async def reader() -> AsyncIterator[tuple[PageFetcher, PageExtractor]]:
    with PageExtractor(workers=1) as extractor:
        await extractor.warm_up()  # a cold worker would add its start-up to the first page
        async with PageFetcher(FETCH) as fetcher:
            yield fetcher, extractor


async def _read(
    hits: Sequence[SearchHit], reader: tuple[PageFetcher, PageExtractor]
) -> list[list[Page]]:
    """Every list of pages ``read_pages`` yielded, the last one complete."""
    fetcher, extractor = reader
    reading = read_pages(hits, fetcher=fetcher, extractor=extractor, settings=FETCH,
                         stats=FetchStats())  # fmt: skip
    async with aclosing(reading):
        return [pages async for _, pages in reading]


def _prompt(pages: Sequence[Page]) -> str:
    composed = compose_search_prompt(
        QUESTION, pages, language="en", cur_date="Monday, December 7, 2026", history=(),
        model=ModelInfo(id="deepseek-ai/DeepSeek-R1", context_length=32768),
        settings=Settings(), counter=load_token_counter(),
    )  # fmt: skip
    return composed.prompt


async def test_pages_arriving_in_reverse_rank_order_make_the_same_prompt(
    web_url: str, reader: tuple[PageFetcher, PageExtractor]
) -> None:
    # Best-ranked slowest: the pages arrive in the reverse of their rank.
    paths = ["/slow/english?delay=2", "/slow/docs?delay=0.5", "/slow/chinese?delay=0"]
    hits = [SearchHit(url=web_url + path, title=path, snippet="", engine="test") for path in paths]

    progress = await _read(hits, reader)
    one_by_one = [(await _read([hit], reader))[-1][0] for hit in hits]

    # The best-ranked came last (how the other two interleave depends on the machine's load).
    assert hits[0].url not in [page.url for page in progress[0]]
    assert [page.url for page in progress[-2]] == [hits[1].url, hits[2].url]
    assert [page.url for page in progress[-1]] == [hit.url for hit in hits]
    assert _prompt(progress[-1]) == _prompt(one_by_one)
    assert _prompt(progress[-1]).index("/slow/english") < _prompt(progress[-1]).index("/slow/docs")
