"""The engine chain: order, fallback, cooldowns, de-duplication and URL normalisation."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from searchqa.documents import SearchHit
from searchqa.engines import RateLimitedError
from searchqa.errors import SearchError
from searchqa.events import Language
from searchqa.steps.search import EngineChain, SearchOutcome, normalize_url, search_web


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ScriptedEngine:
    """An engine that answers from a script: hit URLs, or an exception to raise."""

    def __init__(self, name: str, *answers: list[str] | BaseException) -> None:
        self.name = name
        self._answers = list(answers)
        self.calls = 0

    async def search(self, query: str, *, language: Language, max_results: int) -> list[SearchHit]:
        answer = self._answers[min(self.calls, len(self._answers) - 1)]
        self.calls += 1
        if isinstance(answer, BaseException):
            raise answer
        return [SearchHit(url=url, title=url, snippet="", engine=self.name) for url in answer]


def make_chain(*engines: ScriptedEngine, clock: FakeClock | None = None) -> EngineChain:
    return EngineChain(engines, cooldown_s=30, cooldown_max_s=100, clock=clock or FakeClock())


async def ask(chain: EngineChain, max_results: int = 8) -> SearchOutcome:
    return await search_web(chain, "what is rust", language="en", max_results=max_results)


async def test_first_engine_with_hits_wins_and_later_ones_are_not_asked() -> None:
    first = ScriptedEngine("ddg", ["https://a.example/1"])
    second = ScriptedEngine("searxng", ["https://b.example/1"])
    outcome = await ask(make_chain(first, second))
    assert outcome.engine == "ddg"
    assert [hit.url for hit in outcome.hits] == ["https://a.example/1"]
    assert outcome.failures == {}
    assert second.calls == 0


async def test_failure_falls_back_to_next_engine_and_reports_reason() -> None:
    first = ScriptedEngine("ddg", SearchError("ddg timed out after 8s"))
    second = ScriptedEngine("searxng", ["https://b.example/1"])
    outcome = await ask(make_chain(first, second))
    assert outcome.engine == "searxng"
    assert [hit.url for hit in outcome.hits] == ["https://b.example/1"]
    assert outcome.failures == {"ddg": "ddg timed out after 8s"}


async def test_rate_limit_falls_back_and_puts_engine_on_cooldown() -> None:
    clock = FakeClock()
    first = ScriptedEngine("ddg", RateLimitedError("ddg rate limited"))
    second = ScriptedEngine("local", ["https://b.example/1"])
    chain = make_chain(first, second, clock=clock)
    outcome = await ask(chain)
    assert outcome.engine == "local"
    assert chain.cooling_down() == {"ddg": 30}


async def test_engine_without_results_passes_the_turn_without_cooldown() -> None:
    first = ScriptedEngine("ddg", [])
    second = ScriptedEngine("local", ["https://b.example/1"])
    chain = make_chain(first, second)
    outcome = await ask(chain)
    assert outcome.engine == "local"
    assert outcome.failures == {}
    assert chain.cooling_down() == {}
    await ask(chain)
    assert first.calls == 2


async def test_engine_on_cooldown_is_skipped_until_it_expires() -> None:
    clock = FakeClock()
    first = ScriptedEngine("ddg", SearchError("boom"), ["https://a.example/1"])
    second = ScriptedEngine("local", ["https://b.example/1"])
    chain = make_chain(first, second, clock=clock)
    await ask(chain)
    clock.now += 20
    outcome = await ask(chain)
    assert first.calls == 1
    assert outcome.engine == "local"
    assert outcome.failures == {"ddg": "cooling down (10s left) after: boom"}
    assert chain.cooling_down() == {"ddg": 10}
    clock.now += 10
    assert chain.cooling_down() == {}
    outcome = await ask(chain)
    assert first.calls == 2
    assert outcome.engine == "ddg"


async def test_cooldown_doubles_on_repeats_up_to_the_cap() -> None:
    clock = FakeClock()
    failing = ScriptedEngine("ddg", SearchError("down"))
    chain = make_chain(failing, ScriptedEngine("local", ["https://b.example/1"]), clock=clock)
    seen = []
    for _ in range(4):
        await ask(chain)
        left = chain.cooling_down()["ddg"]
        seen.append(left)
        clock.now += left
    assert seen == [30, 60, 100, 100]
    assert failing.calls == 4


async def test_success_resets_the_cooldown_to_its_first_length() -> None:
    clock = FakeClock()
    flaky = ScriptedEngine(
        "ddg", SearchError("x"), SearchError("x"), ["https://a.example/"], SearchError("x")
    )
    chain = make_chain(flaky, ScriptedEngine("local", ["https://b.example/"]), clock=clock)
    for _ in range(3):
        await ask(chain)
        clock.now += 1000
    assert chain.cooling_down() == {}
    await ask(chain)
    assert chain.cooling_down() == {"ddg": 30}


async def test_every_engine_failing_raises_search_error_naming_each() -> None:
    clock = FakeClock()
    ddg = ScriptedEngine("ddg", RateLimitedError("ddg rate limited"))
    searx = ScriptedEngine("searxng", SearchError("searxng answered HTTP 500"))
    chain = make_chain(ddg, searx, clock=clock)
    with pytest.raises(SearchError) as first:
        await ask(chain)
    assert "ddg: ddg rate limited" in first.value.message
    assert "searxng: searxng answered HTTP 500" in first.value.message
    assert first.value.retryable
    clock.now += 5
    with pytest.raises(SearchError) as second:
        await ask(chain)
    assert "ddg: cooling down (25s left) after: ddg rate limited" in second.value.message
    assert "searxng: cooling down" in second.value.message
    assert (ddg.calls, searx.calls) == (1, 1)


async def test_engines_that_found_nothing_give_an_empty_outcome_not_an_error() -> None:
    chain = make_chain(ScriptedEngine("ddg", SearchError("down")), ScriptedEngine("local", []))
    outcome = await ask(chain)
    assert outcome.hits == []
    assert outcome.engine is None
    assert outcome.failures == {"ddg": "down"}


async def test_unexpected_engine_crash_counts_as_a_failure() -> None:
    broken = ScriptedEngine("local", RuntimeError("database is locked"))
    chain = make_chain(broken, ScriptedEngine("ddg", ["https://a.example/"]))
    outcome = await ask(chain)
    assert outcome.engine == "ddg"
    assert outcome.failures == {"local": "RuntimeError: database is locked"}
    assert "local" in chain.cooling_down()


async def test_cancellation_propagates_and_sets_no_cooldown() -> None:
    chain = make_chain(ScriptedEngine("ddg", asyncio.CancelledError()))
    with pytest.raises(asyncio.CancelledError):
        await ask(chain)
    assert chain.cooling_down() == {}


async def test_hits_are_deduplicated_by_normalised_url_and_truncated() -> None:
    urls = [
        "https://www.example.com/page/?utm_source=x",
        "https://example.com/page",
        "HTTPS://EXAMPLE.COM:443/page#top",
        "https://example.com/other?b=2&a=1",
        "https://example.com/other?a=1&b=2",
        "https://example.com/third",
        "https://example.com/fourth",
    ]
    chain = make_chain(ScriptedEngine("ddg", urls))
    outcome = await ask(chain, max_results=2)
    assert [hit.url for hit in outcome.hits] == [
        "https://www.example.com/page/?utm_source=x",
        "https://example.com/other?b=2&a=1",
    ]


def test_chain_rejects_duplicate_engine_names() -> None:
    with pytest.raises(ValueError, match="unique"):
        make_chain(ScriptedEngine("ddg", []), ScriptedEngine("ddg", []))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://WWW.Example.COM/Path/", "https://example.com/Path"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com/", "https://example.com"),
        ("https://example.com/a#section", "https://example.com/a"),
        ("https://example.com/a?utm_source=x&utm_medium=y&id=3", "https://example.com/a?id=3"),
        ("https://example.com/a?gclid=1&fbclid=2", "https://example.com/a"),
        ("https://example.com/a?z=1&a=2", "https://example.com/a?a=2&z=1"),
        ("https://example.com/s?q=rust+lang", "https://example.com/s?q=rust+lang"),
        ("https://[2001:DB8::1]:443/x", "https://[2001:db8::1]/x"),
        ("mailto:someone@example.com", "mailto:someone@example.com"),
    ],
)
def test_normalize_url(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


def test_normalize_url_keeps_different_pages_apart() -> None:
    assert normalize_url("https://example.com/a?id=1") != normalize_url(
        "https://example.com/a?id=2"
    )
    assert normalize_url("https://example.com/a") != normalize_url("https://example.com/b")
    assert normalize_url("https://example.com/a") != normalize_url("https://example.org/a")


_url_parts = st.builds(
    lambda scheme, www, host, port, path, query, fragment: (
        f"{scheme}://{www}{host}{port}{path}{query}{fragment}"
    ),
    st.sampled_from(["http", "https", "HTTP", "ftp"]),
    st.sampled_from(["", "www.", "WWW.", "www.www."]),
    st.from_regex(r"[A-Za-z0-9-]{1,10}(\.[A-Za-z]{2,4}){0,2}", fullmatch=True),
    st.sampled_from(["", ":80", ":443", ":8080", ":", ":abc"]),
    st.from_regex(r"(/[A-Za-z0-9%._~-]{0,6}){0,3}/{0,2}", fullmatch=True),
    st.lists(
        st.sampled_from(["a=1", "b=", "utm_source=x", "gclid=9", "q=a+b", "", "x"]), max_size=4
    ).map(lambda pairs: "?" + "&".join(pairs) if pairs else ""),
    st.sampled_from(["", "#", "#top"]),
)


@given(_url_parts)
def test_normalize_url_is_idempotent_on_urls(url: str) -> None:
    once = normalize_url(url)
    assert normalize_url(once) == once


_url_like = st.text(alphabet="/:@[]?#&=.wW%1 \t\r\n\x00é\x85\u3000AaHhTtPpSs", max_size=30)


@given(st.one_of(st.text(), _url_like, _url_like.map(lambda tail: "http://" + tail)))
def test_normalize_url_is_idempotent_on_any_text(text: str) -> None:
    once = normalize_url(text)
    assert normalize_url(once) == once
