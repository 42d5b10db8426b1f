"""Search engine adapters: SearXNG against a real local fake, ddgs with its class stubbed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from ddgs.exceptions import DDGSException, RatelimitException, TimeoutException

from searchqa.engines import EngineFaultError, RateLimitedError
from searchqa.engines.ddg import DdgsEngine, region_for
from searchqa.engines.registry import build_engines
from searchqa.engines.searxng import SearxngEngine
from searchqa.errors import InvalidRequestError, SearchError
from searchqa.settings import SearchSettings, Settings
from tests.fakes.searxng import FakeSearxng, searx_result
from tests.fakes.server import BackgroundServer, serve


@pytest.fixture
def searx() -> FakeSearxng:
    return FakeSearxng(
        [
            searx_result(
                "https://a.example/one", "One", "first page", published="2024-05-01T00:00:00"
            ),
            searx_result("https://b.example/two", "Two", "second page", engine="bing", position=2),
            searx_result("https://c.example/three", "Three", "third page", position=3),
        ]
    )


@pytest.fixture
def searx_server(searx: FakeSearxng) -> Iterator[BackgroundServer]:
    with serve(searx.app()) as server:
        yield server


# --- SearXNG -------------------------------------------------------------------------------


async def test_searxng_maps_results_and_sends_query_language_and_format(
    searx: FakeSearxng, searx_server: BackgroundServer
) -> None:
    engine = SearxngEngine(searx_server.url)
    hits = await engine.search("什么是 Rust", language="zh", max_results=2)
    assert [(h.url, h.title, h.snippet, h.engine, h.published) for h in hits] == [
        ("https://a.example/one", "One", "first page", "searxng", "2024-05-01T00:00:00"),
        ("https://b.example/two", "Two", "second page", "searxng", None),
    ]
    assert searx.requests[-1] == {"q": "什么是 Rust", "format": "json", "language": "zh-CN"}
    await engine.search("rust", language="en", max_results=5)
    assert searx.requests[-1]["language"] == "en"


async def test_searxng_serves_per_query_results_and_accepts_base_url_with_slash(
    searx: FakeSearxng, searx_server: BackgroundServer
) -> None:
    searx.by_query["rust"] = [searx_result("https://www.rust-lang.org/", "Rust")]
    engine = SearxngEngine(searx_server.url + "/")
    hits = await engine.search("rust", language="en", max_results=5)
    assert [h.url for h in hits] == ["https://www.rust-lang.org/"]
    others = await engine.search("python", language="en", max_results=5)
    assert len(others) == 3


async def test_searxng_skips_results_without_a_web_url(
    searx: FakeSearxng, searx_server: BackgroundServer
) -> None:
    searx.results = [
        {"title": "no url"},
        searx_result("magnet:?xt=urn:btih:abc", "Torrent"),
        searx_result("https://ok.example/", "OK", "fine"),
    ]
    hits = await SearxngEngine(searx_server.url).search("x", language="en", max_results=5)
    assert [h.url for h in hits] == ["https://ok.example/"]


async def test_searxng_no_results_is_an_empty_list(
    searx: FakeSearxng, searx_server: BackgroundServer
) -> None:
    searx.results = []
    assert await SearxngEngine(searx_server.url).search("x", language="en", max_results=5) == []


async def test_searxng_nothing_because_upstreams_failed_is_an_error(
    searx: FakeSearxng, searx_server: BackgroundServer
) -> None:
    searx.results = []
    searx.unresponsive = [("google", "CAPTCHA"), ("bing", "timeout")]
    with pytest.raises(SearchError, match=r"google \(CAPTCHA\), bing \(timeout\)"):
        await SearxngEngine(searx_server.url).search("x", language="en", max_results=5)


async def test_searxng_429_is_a_rate_limit(
    searx: FakeSearxng, searx_server: BackgroundServer
) -> None:
    searx.status = 429
    with pytest.raises(RateLimitedError, match="429"):
        await SearxngEngine(searx_server.url).search("x", language="en", max_results=5)


async def test_searxng_403_explains_that_json_format_is_disabled(
    searx: FakeSearxng, searx_server: BackgroundServer
) -> None:
    searx.json_disabled = True
    with pytest.raises(SearchError, match=r"403.*search\.formats") as caught:
        await SearxngEngine(searx_server.url).search("x", language="en", max_results=5)
    assert not isinstance(caught.value, RateLimitedError)


async def test_searxng_server_error_is_a_search_error(
    searx: FakeSearxng, searx_server: BackgroundServer
) -> None:
    searx.status = 500
    with pytest.raises(SearchError, match="HTTP 500"):
        await SearxngEngine(searx_server.url).search("x", language="en", max_results=5)


async def test_searxng_malformed_json_is_a_search_error(
    searx: FakeSearxng, searx_server: BackgroundServer
) -> None:
    searx.malformed = True
    with pytest.raises(SearchError, match="malformed JSON"):
        await SearxngEngine(searx_server.url).search("x", language="en", max_results=5)


@pytest.mark.parametrize("knob", ["slow", "hang"])
async def test_searxng_that_does_not_answer_in_time_is_a_timeout(
    searx: FakeSearxng, searx_server: BackgroundServer, knob: str
) -> None:
    if knob == "slow":
        searx.delay_s = 2.0
    else:
        searx.hang = True
    engine = SearxngEngine(searx_server.url, timeout_s=0.3)
    with pytest.raises(SearchError, match="timed out"):
        await engine.search("x", language="en", max_results=5)


async def test_searxng_slow_but_in_time_still_answers(
    searx: FakeSearxng, searx_server: BackgroundServer
) -> None:
    searx.delay_s = 0.1
    hits = await SearxngEngine(searx_server.url, timeout_s=5).search(
        "x", language="en", max_results=5
    )
    assert len(hits) == 3


async def test_searxng_unreachable_is_a_search_error() -> None:
    with serve(FakeSearxng().app()) as server:
        url = server.url
    with pytest.raises(SearchError, match="unreachable"):
        await SearxngEngine(url, timeout_s=2).search("x", language="en", max_results=5)


# --- ddgs ----------------------------------------------------------------------------------


class DdgsStub:
    """Stands in for the ``ddgs.DDGS`` class: records how it is built and queried."""

    def __init__(
        self,
        rows: Sequence[dict[str, Any]] = (),
        *,
        error: Exception | None = None,
        gate: threading.Event | None = None,
    ) -> None:
        self.rows = list(rows)
        self.error = error
        self.gate = gate
        self.gate_opened: bool | None = None
        self.built: list[dict[str, Any]] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, **kwargs: Any) -> DdgsStub:
        self.built.append(kwargs)
        return self

    def text(self, query: str, **kwargs: Any) -> list[dict[str, Any]]:
        self.calls.append((query, kwargs))
        if self.gate is not None:
            self.gate_opened = self.gate.wait(timeout=2)
        if self.error is not None:
            raise self.error
        return self.rows


DDG_ROWS = [
    {
        "title": "Rust",
        "href": "https://www.rust-lang.org/",
        "body": "A language empowering everyone",
    },
    {"title": "No link", "href": "", "body": "dropped"},
    {"title": "Book", "href": "https://doc.rust-lang.org/book/", "body": "The Rust book"},
    {"title": "Extra", "href": "https://example.com/", "body": "beyond max_results"},
]


async def test_ddg_maps_href_title_body_and_truncates() -> None:
    engine = DdgsEngine(ddgs_factory=DdgsStub(DDG_ROWS))
    hits = await engine.search("rust", language="en", max_results=2)
    assert [(h.url, h.title, h.snippet, h.engine, h.published) for h in hits] == [
        ("https://www.rust-lang.org/", "Rust", "A language empowering everyone", "ddg", None),
        ("https://doc.rust-lang.org/book/", "Book", "The Rust book", "ddg", None),
    ]


@pytest.mark.parametrize(("language", "region"), [("zh", "cn-zh"), ("en", "us-en")])
async def test_ddg_region_follows_language(language: Any, region: str) -> None:
    stub = DdgsStub(DDG_ROWS)
    await DdgsEngine(ddgs_factory=stub).search("q", language=language, max_results=5)
    assert stub.calls[0][1]["region"] == region


async def test_ddg_passes_backend_timeout_and_max_results() -> None:
    stub = DdgsStub(DDG_ROWS)
    engine = DdgsEngine(backend="duckduckgo,bing", timeout_s=3.5, ddgs_factory=stub)
    await engine.search("rust", language="en", max_results=7)
    assert stub.built == [{"timeout": 3.5}]
    query, kwargs = stub.calls[0]
    assert query == "rust"
    assert kwargs["backend"] == "duckduckgo,bing"
    assert kwargs["max_results"] == 7


async def test_ddg_no_results_is_an_empty_list() -> None:
    stub = DdgsStub(error=DDGSException("No results found."))
    assert await DdgsEngine(ddgs_factory=stub).search("q", language="en", max_results=5) == []


@pytest.mark.parametrize(
    "error",
    [RatelimitException("202 Ratelimit"), DDGSException(RatelimitException("202 Ratelimit"))],
)
async def test_ddg_rate_limit_is_flagged(error: Exception) -> None:
    engine = DdgsEngine(ddgs_factory=DdgsStub(error=error))
    with pytest.raises(RateLimitedError, match="rate limited"):
        await engine.search("q", language="en", max_results=5)


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (TimeoutException("operation timed out"), "ddg timed out"),
        (DDGSException("ConnectError: dns failure"), "ddg failed: ConnectError"),
        (ValueError("broken page"), "ddg failed: ValueError: broken page"),
    ],
)
async def test_ddg_errors_become_search_errors(error: Exception, message: str) -> None:
    engine = DdgsEngine(ddgs_factory=DdgsStub(error=error))
    with pytest.raises(SearchError, match=message) as caught:
        await engine.search("q", language="en", max_results=5)
    assert not isinstance(caught.value, RateLimitedError)


async def test_ddg_runs_off_the_event_loop() -> None:
    gate = threading.Event()
    stub = DdgsStub(DDG_ROWS, gate=gate)
    search = asyncio.create_task(
        DdgsEngine(ddgs_factory=stub, timeout_s=5).search("q", language="en", max_results=5)
    )
    await asyncio.sleep(0)
    # Only reachable while ddgs blocks if it blocks in another thread.
    gate.set()
    hits = await search
    assert stub.gate_opened is True
    assert len(hits) == 3


async def test_ddg_that_blocks_past_the_timeout_is_a_timeout() -> None:
    gate = threading.Event()
    engine = DdgsEngine(ddgs_factory=DdgsStub(DDG_ROWS, gate=gate), timeout_s=0.2)
    try:
        with pytest.raises(SearchError, match=r"timed out after 0\.2s"):
            await engine.search("q", language="en", max_results=5)
    finally:
        gate.set()


# --- registry ------------------------------------------------------------------------------


def settings_with(**search: Any) -> Settings:
    return Settings(_env_file=None, search=SearchSettings(**search))  # type: ignore[call-arg]  # pydantic-settings' _env_file


def test_registry_builds_engines_in_the_configured_order() -> None:
    engines = build_engines(["searxng", "ddg"], settings_with(searxng_url="http://127.0.0.1:1"))
    assert [engine.name for engine in engines] == ["searxng", "ddg"]
    assert isinstance(engines[0], SearxngEngine)
    assert isinstance(engines[1], DdgsEngine)


async def test_registry_ddg_uses_the_ddgs_class_with_configured_backend_and_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stub = DdgsStub(DDG_ROWS)
    monkeypatch.setattr("searchqa.engines.ddg.DDGS", stub)
    (engine,) = build_engines(["ddg"], settings_with(ddg_backend="bing", timeout_s=4.0))
    hits = await engine.search("q", language="zh", max_results=5)
    assert len(hits) == 3
    assert stub.built == [{"timeout": 4.0}]
    assert stub.calls[0][1]["backend"] == "bing"


def test_registry_rejects_unknown_engine_listing_known_ones() -> None:
    with pytest.raises(InvalidRequestError, match=r"'bing'.*known engines: ddg, searxng, local"):
        build_engines(["ddg", "bing"], settings_with())


def test_registry_searxng_without_url_says_which_variable_to_set() -> None:
    with pytest.raises(InvalidRequestError, match="SEARCHQA_SEARCH__SEARXNG_URL"):
        build_engines(["searxng"], settings_with(searxng_url=None))


def test_registry_rejects_empty_and_repeated_lists() -> None:
    with pytest.raises(InvalidRequestError, match="no search engines"):
        build_engines([], settings_with())
    with pytest.raises(InvalidRequestError, match="listed twice: ddg"):
        build_engines(["ddg", "DDG"], settings_with())


def test_registry_builds_the_local_index_engine(tmp_path: Any) -> None:
    pytest.importorskip("searchqa.engines.local")
    settings = Settings(_env_file=None, index={"path": tmp_path / "index.sqlite3"})  # type: ignore[call-arg, arg-type]  # _env_file; a dict validated into IndexSettings
    (engine,) = build_engines(["local"], settings)
    assert engine.name == "local"


# --- search language and failure kinds -----------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "sent"),
    [("fr", "fr"), ("zh-CN", "zh-CN"), ("zh-TW", "zh-TW"), ("pt-br", "pt-BR"), ("ja", "ja")],
)
async def test_searxng_is_asked_in_the_search_language(
    searx: FakeSearxng, searx_server: BackgroundServer, tag: str, sent: str
) -> None:
    await SearxngEngine(searx_server.url).search("q", language=tag, max_results=5)
    assert searx.requests[-1]["language"] == sent


@pytest.mark.parametrize(
    ("knob", "fault"),
    [
        ("status_500", True),
        ("status_503", True),
        ("json_disabled", True),
        ("status_429", True),
        ("status_400", False),
        ("malformed", False),
        ("unresponsive", False),
    ],
)
async def test_searxng_tells_faults_of_the_engine_from_bad_answers(
    searx: FakeSearxng, searx_server: BackgroundServer, knob: str, fault: bool
) -> None:
    if knob.startswith("status_"):
        searx.status = int(knob.removeprefix("status_"))
    elif knob == "json_disabled":
        searx.json_disabled = True
    elif knob == "malformed":
        searx.malformed = True
    else:
        searx.results, searx.unresponsive = [], [("google", "CAPTCHA")]
    with pytest.raises(SearchError) as caught:
        await SearxngEngine(searx_server.url).search("x", language="en", max_results=5)
    assert isinstance(caught.value, EngineFaultError) is fault


async def test_searxng_timeouts_and_refused_connections_are_faults(
    searx: FakeSearxng, searx_server: BackgroundServer
) -> None:
    searx.hang = True
    with pytest.raises(EngineFaultError, match="timed out"):
        await SearxngEngine(searx_server.url, timeout_s=0.2).search(
            "x", language="en", max_results=5
        )
    with serve(FakeSearxng().app()) as server:
        gone = server.url
    with pytest.raises(EngineFaultError, match="unreachable"):
        await SearxngEngine(gone, timeout_s=2).search("x", language="en", max_results=5)


@pytest.mark.parametrize(
    ("tag", "backend", "region"),
    [
        ("fr", "duckduckgo", "fr-fr"),
        ("de", "duckduckgo", "de-de"),
        ("ja", "duckduckgo", "jp-jp"),
        ("ko", "duckduckgo", "kr-kr"),
        ("zh-TW", "duckduckgo", "tw-tzh"),
        ("zh-CN", "duckduckgo", "cn-zh"),
        ("pt-BR", "duckduckgo", "br-pt"),
        ("fa", "duckduckgo", "wt-wt"),  # DuckDuckGo has no Persian region: none at all
        ("ja", "duckduckgo,bing", "jp-ja"),  # other backends read ISO 639-1 languages
        ("zh-TW", "bing", "tw-zh"),
        ("fa", "wikipedia", "us-en"),  # they split the region: never wt-wt
    ],
)
def test_ddg_region_for_a_search_language(tag: str, backend: str, region: str) -> None:
    assert region_for(tag, backend) == region


async def test_ddg_is_asked_in_the_region_of_the_search_language() -> None:
    stub = DdgsStub(DDG_ROWS)
    await DdgsEngine(ddgs_factory=stub).search("météo demain", language="fr", max_results=5)
    assert stub.calls[0][1]["region"] == "fr-fr"


@pytest.mark.parametrize(
    ("error", "fault"),
    [
        (TimeoutException("operation timed out"), True),
        (DDGSException("ConnectError: dns failure"), True),
        (RatelimitException("202 Ratelimit"), True),
        (ValueError("broken page"), False),
    ],
)
async def test_ddg_tells_faults_of_the_engine_from_bad_answers(
    error: Exception, fault: bool
) -> None:
    engine = DdgsEngine(ddgs_factory=DdgsStub(error=error))
    with pytest.raises(SearchError) as caught:
        await engine.search("q", language="en", max_results=5)
    assert isinstance(caught.value, EngineFaultError) is fault
