"""The engine chain: order, fallback, circuit breakers, de-duplication and URL normalisation."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from searchqa.documents import SearchHit
from searchqa.engines import EngineFaultError, RateLimitedError
from searchqa.errors import SearchError
from searchqa.events import EngineFailure, SearchLanguage
from searchqa.steps.breaker import BreakerSettings, CircuitBreakers
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
        self.gate: asyncio.Event | None = None

    async def search(
        self, query: str, *, language: SearchLanguage, max_results: int
    ) -> list[SearchHit]:
        answer = self._answers[min(self.calls, len(self._answers) - 1)]
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if isinstance(answer, BaseException):
            raise answer
        return [SearchHit(url=url, title=url, snippet="", engine=self.name) for url in answer]


def make_chain(
    *engines: ScriptedEngine, clock: FakeClock | None = None, threshold: int = 3
) -> EngineChain:
    settings = BreakerSettings(failure_threshold=threshold, open_s=30, open_max_s=100)
    return EngineChain(
        list(engines), breakers=CircuitBreakers(settings, clock=clock or FakeClock())
    )


def open_circuits(chain: EngineChain) -> dict[str, object]:
    return {
        name: state.get("retry_in_s")
        for name, state in chain.states().items()
        if state["state"] != "closed"
    }


async def ask(chain: EngineChain, max_results: int = 8) -> SearchOutcome:
    return await search_web(chain, "what is rust", language="en", max_results=max_results)


async def test_first_engine_with_hits_wins_and_later_ones_are_not_asked() -> None:
    first = ScriptedEngine("ddg", ["https://a.example/1"])
    second = ScriptedEngine("searxng", ["https://b.example/1"])
    outcome = await ask(make_chain(first, second))
    assert outcome.engine == "ddg"
    assert [hit.url for hit in outcome.hits] == ["https://a.example/1"]
    assert outcome.failures == {}
    assert not outcome.degraded
    assert second.calls == 0


async def test_failure_falls_back_to_next_engine_and_reports_reason() -> None:
    first = ScriptedEngine("ddg", EngineFaultError("ddg timed out after 8s"))
    second = ScriptedEngine("searxng", ["https://b.example/1"])
    outcome = await ask(make_chain(first, second))
    assert outcome.engine == "searxng"
    assert [hit.url for hit in outcome.hits] == ["https://b.example/1"]
    assert outcome.failures == {"ddg": "ddg timed out after 8s"}
    assert outcome.degraded
    report = outcome.report("what is rust")
    assert report.engine == "searxng"
    assert report.failed == [EngineFailure(engine="ddg", reason="ddg timed out after 8s")]


async def test_one_bad_answer_does_not_open_the_circuit() -> None:
    flaky = ScriptedEngine("searxng", EngineFaultError("searxng answered HTTP 500"), ["https://a/"])
    local = ScriptedEngine("local", ["https://b.example/1"])
    chain = make_chain(flaky, local)
    assert (await ask(chain)).engine == "local"
    assert open_circuits(chain) == {}
    outcome = await ask(chain)  # the very next question uses it again
    assert (outcome.engine, flaky.calls) == ("searxng", 2)
    assert chain.states()["searxng"]["consecutive_failures"] == 0


async def test_consecutive_faults_open_the_circuit_and_requests_skip_it() -> None:
    clock = FakeClock()
    down = ScriptedEngine("searxng", EngineFaultError("searxng unreachable: ConnectError"))
    local = ScriptedEngine("local", ["https://b.example/1"])
    chain = make_chain(down, local, clock=clock, threshold=3)
    for _ in range(3):
        await ask(chain)
    assert down.calls == 3
    assert open_circuits(chain) == {"searxng": 30}
    clock.now += 20
    outcome = await ask(chain)
    assert down.calls == 3
    assert outcome.engine == "local"
    assert outcome.degraded
    assert outcome.failures["searxng"] == (
        "circuit open (10s left) after: searxng unreachable: ConnectError"
    )


async def test_bad_answers_to_single_queries_never_open_the_circuit() -> None:
    odd = ScriptedEngine("searxng", SearchError("searxng sent malformed JSON"))
    chain = make_chain(odd, ScriptedEngine("local", ["https://b.example/1"]), threshold=2)
    for _ in range(5):
        outcome = await ask(chain)
        assert outcome.failures == {"searxng": "searxng sent malformed JSON"}
    assert odd.calls == 5
    assert open_circuits(chain) == {}


async def test_a_success_resets_the_count_of_consecutive_faults() -> None:
    fault = EngineFaultError("searxng answered HTTP 502")
    flaky = ScriptedEngine("searxng", fault, fault, ["https://a/"], fault, fault, ["https://a/"])
    chain = make_chain(flaky, ScriptedEngine("local", ["https://b/"]), threshold=3)
    for _ in range(6):
        await ask(chain)
    assert flaky.calls == 6
    assert open_circuits(chain) == {}


async def test_rate_limit_opens_the_circuit_at_once() -> None:
    first = ScriptedEngine("ddg", RateLimitedError("ddg rate limited"))
    second = ScriptedEngine("local", ["https://b.example/1"])
    chain = make_chain(first, second)
    outcome = await ask(chain)
    assert outcome.engine == "local"
    assert open_circuits(chain) == {"ddg": 30}


async def test_engine_without_results_passes_the_turn_without_a_mark() -> None:
    first = ScriptedEngine("ddg", [])
    second = ScriptedEngine("local", ["https://b.example/1"])
    chain = make_chain(first, second)
    outcome = await ask(chain)
    assert outcome.engine == "local"
    assert outcome.failures == {}
    assert open_circuits(chain) == {}
    await ask(chain)
    assert first.calls == 2


async def test_half_open_lets_one_probe_through_and_closes_on_success() -> None:
    clock = FakeClock()
    fault = EngineFaultError("searxng timed out after 8s")
    engine = ScriptedEngine("searxng", fault, ["https://a.example/1"])
    local = ScriptedEngine("local", ["https://b.example/1"])
    chain = make_chain(engine, local, clock=clock, threshold=1)
    await ask(chain)
    clock.now += 30
    assert chain.states()["searxng"]["state"] == "half_open"
    engine.gate = asyncio.Event()
    probe = asyncio.create_task(ask(chain))
    await asyncio.sleep(0)
    others = await asyncio.gather(ask(chain), ask(chain))
    assert [outcome.engine for outcome in others] == ["local", "local"]
    assert all("another request is probing" in o.failures["searxng"] for o in others)
    engine.gate.set()
    assert (await probe).engine == "searxng"
    assert engine.calls == 2
    assert chain.states()["searxng"]["state"] == "closed"


async def test_a_failed_probe_opens_the_circuit_for_twice_as_long_up_to_the_cap() -> None:
    clock = FakeClock()
    down = ScriptedEngine("ddg", EngineFaultError("down"))
    chain = make_chain(down, ScriptedEngine("local", ["https://b/"]), clock=clock, threshold=1)
    seen = []
    for _ in range(4):
        await ask(chain)
        left = open_circuits(chain)["ddg"]
        assert isinstance(left, float | int)
        seen.append(left)
        clock.now += left
    assert seen == [30, 60, 100, 100]
    assert down.calls == 4


async def test_a_cancelled_probe_frees_the_probe_slot() -> None:
    clock = FakeClock()
    engine = ScriptedEngine("ddg", EngineFaultError("down"), ["https://a/"])
    chain = make_chain(engine, ScriptedEngine("local", ["https://b/"]), clock=clock, threshold=1)
    await ask(chain)
    clock.now += 30
    engine.gate = asyncio.Event()
    probe = asyncio.create_task(ask(chain))
    await asyncio.sleep(0)
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    engine.gate.set()
    assert (await ask(chain)).engine == "ddg"


async def test_when_every_circuit_is_open_the_least_recently_failed_is_tried_once() -> None:
    clock = FakeClock()
    ddg = ScriptedEngine("ddg", RateLimitedError("ddg rate limited"), ["https://a.example/1"])
    searx = ScriptedEngine("searxng", RateLimitedError("searxng rate limited (HTTP 429)"))
    chain = make_chain(ddg, searx, clock=clock)
    with pytest.raises(SearchError) as first:
        await ask(chain)
    assert "ddg: ddg rate limited" in first.value.message
    assert "searxng: searxng rate limited (HTTP 429)" in first.value.message
    assert first.value.retryable
    clock.now += 5
    outcome = await ask(chain)  # both open: ddg failed first, so it is tried
    assert (ddg.calls, searx.calls) == (2, 1)
    assert outcome.engine == "ddg"
    assert list(outcome.failures) == ["searxng"]
    assert outcome.failures["searxng"].startswith("circuit open (25s left)")
    assert chain.states()["ddg"]["state"] == "closed"


async def test_a_forced_try_that_fails_is_reported_and_the_search_fails() -> None:
    clock = FakeClock()
    only = ScriptedEngine("searxng", EngineFaultError("searxng answered HTTP 503"))
    chain = make_chain(only, clock=clock, threshold=1)
    with pytest.raises(SearchError):
        await ask(chain)
    clock.now += 1
    with pytest.raises(SearchError, match="tried though its circuit is open"):
        await ask(chain)
    assert only.calls == 2


async def test_engines_that_found_nothing_give_an_empty_outcome_not_an_error() -> None:
    chain = make_chain(ScriptedEngine("ddg", EngineFaultError("down")), ScriptedEngine("local", []))
    outcome = await ask(chain)
    assert outcome.hits == []
    assert outcome.engine is None
    assert outcome.failures == {"ddg": "down"}


async def test_unexpected_engine_crash_counts_as_a_fault() -> None:
    broken = ScriptedEngine("local", RuntimeError("database is locked"))
    chain = make_chain(broken, ScriptedEngine("ddg", ["https://a.example/"]), threshold=1)
    outcome = await ask(chain)
    assert outcome.engine == "ddg"
    assert outcome.failures == {"local": "RuntimeError: database is locked"}
    assert "local" in open_circuits(chain)


async def test_cancellation_propagates_and_leaves_no_mark() -> None:
    chain = make_chain(ScriptedEngine("ddg", asyncio.CancelledError()), threshold=1)
    with pytest.raises(asyncio.CancelledError):
        await ask(chain)
    assert open_circuits(chain) == {}


def test_chains_of_one_kit_share_their_breakers() -> None:
    breakers = CircuitBreakers(BreakerSettings())
    one = EngineChain([ScriptedEngine("ddg", [])], breakers=breakers)
    two = EngineChain([ScriptedEngine("ddg", []), ScriptedEngine("local", [])], breakers=breakers)
    assert one.breakers["ddg"] is two.breakers["ddg"]


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
