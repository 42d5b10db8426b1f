"""PageFetcher and fetch_pages against the fake web: guard, caps, redirects, deadline, proxies."""

from __future__ import annotations

import asyncio
import socket
import ssl
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import aclosing, contextmanager
from dataclasses import dataclass

import pytest
from aiohttp import web

from searchqa.documents import FetchedPage, FetchStats, Page, SearchHit
from searchqa.net.guard import AddressGuard, BlockedURLError
from searchqa.net.transport import guarded_client
from searchqa.settings import FetchSettings
from searchqa.steps.fetch import PageFetcher, PageFetchError, PageResult, fetch_pages
from tests.fakes.server import BackgroundServer, serve
from tests.fakes.web import IN_FLIGHT, PROXY_LOG, REQUEST_LOG, fake_proxy_app, fake_web_app

Extractor = Callable[[SearchHit, FetchedPage], Awaitable[Page | None]]
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@dataclass
class FakeWeb:
    url: str
    port: int
    app: web.Application

    @property
    def requests(self) -> list[str]:
        return self.app[REQUEST_LOG]


@pytest.fixture(scope="module")
def fake_web() -> Iterator[FakeWeb]:
    app = fake_web_app()
    with serve(app) as server:
        yield FakeWeb(url=server.url, port=server.port, app=app)


@pytest.fixture(autouse=True)
def no_proxy_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def settings(**overrides: object) -> FetchSettings:
    values: dict[str, object] = {"allow_hosts": ["127.0.0.1"], "page_timeout_s": 5.0}
    values.update(overrides)
    return FetchSettings.model_validate(values)


@pytest.fixture
async def fetcher() -> AsyncIterator[PageFetcher]:
    async with PageFetcher(settings()) as page_fetcher:
        yield page_fetcher


async def fetch_error(fetcher: PageFetcher, url: str) -> PageFetchError:
    with pytest.raises(PageFetchError) as caught:
        await fetcher.fetch(url)
    return caught.value


# --- PageFetcher: the happy path and the guard -------------------------------------------


async def test_fetches_a_page_as_decoded_text(fetcher: PageFetcher, fake_web: FakeWeb) -> None:
    page = await fetcher.fetch(f"{fake_web.url}/pages/chinese")
    assert "高铁开通三年后，山区小城的游客翻了一番" in page.text
    assert page.content_type == "text/html"
    assert page.url == page.requested_url == f"{fake_web.url}/pages/chinese"


async def test_sends_the_configured_user_agent(fake_web: FakeWeb) -> None:
    async with PageFetcher(settings(user_agent="searchqa-test/1.0")) as fetcher:
        page = await fetcher.fetch(f"{fake_web.url}/headers")
    assert "User-Agent: searchqa-test/1.0" in page.text


async def test_without_allow_list_the_fake_web_is_refused(fake_web: FakeWeb) -> None:
    url = f"{fake_web.url}/pages/english?probe=unlisted"
    async with PageFetcher(settings(allow_hosts=[])) as fetcher:
        error = await fetch_error(fetcher, url)
    assert error.reason == "blocked"
    assert "127.0.0.1 is a loopback address" in error.message
    assert "/pages/english?probe=unlisted" not in fake_web.requests


async def test_a_name_resolving_to_loopback_is_refused_at_connect(fake_web: FakeWeb) -> None:
    async with PageFetcher(settings(allow_hosts=[])) as fetcher:
        error = await fetch_error(fetcher, f"http://localhost:{fake_web.port}/pages/english")
    assert error.reason == "blocked"
    assert "localhost: it resolves to 127.0.0.1" in error.message


@pytest.mark.parametrize("allowed", ["localhost", "127.0.0.0/8"])
async def test_allow_hosts_by_name_or_cidr_reaches_the_host(
    fake_web: FakeWeb, allowed: str
) -> None:
    async with PageFetcher(settings(allow_hosts=[allowed])) as fetcher:
        page = await fetcher.fetch(f"http://localhost:{fake_web.port}/pages/docs")
    assert "Cache-Control explained" in page.text


class StaticDNSGuard(AddressGuard):
    """A guard whose resolver is a fixed table, standing in for DNS names we cannot register."""

    def __init__(self, table: dict[str, list[str]], allow_hosts: list[str]) -> None:
        super().__init__(allow_hosts)
        self.table = table

    async def resolve(self, host: str, port: int) -> list[str]:
        addresses = self.table[host]
        for address in addresses:
            self.check_address(host, address)
        return addresses


async def test_the_connection_goes_to_the_address_the_guard_vetted(fake_web: FakeWeb) -> None:
    # The system resolver has never heard of this name: only the guard's answer can be dialled.
    guard = StaticDNSGuard({"news.example": ["127.0.0.1"]}, allow_hosts=["127.0.0.1"])
    async with PageFetcher(settings(), guard=guard) as fetcher:
        page = await fetcher.fetch(f"http://news.example:{fake_web.port}/pages/english")
    assert "Community Gardens" in page.text

    rebinding = StaticDNSGuard({"news.example": ["93.184.216.34", "10.0.0.7"]}, allow_hosts=[])
    async with PageFetcher(settings(allow_hosts=[]), guard=rebinding) as fetcher:
        error = await fetch_error(fetcher, f"http://news.example:{fake_web.port}/")
    assert error.reason == "blocked"
    assert "10.0.0.7, a private address" in error.message


async def test_guarded_client_stays_guarded_when_httpx_follows_redirects(
    fake_web: FakeWeb,
) -> None:
    target = "http://169.254.169.254/latest/meta-data/"
    async with guarded_client(settings(), AddressGuard(["127.0.0.1"])) as client:
        with pytest.raises(BlockedURLError, match="metadata"):
            await client.get(f"{fake_web.url}/redirect-to?url={target}", follow_redirects=True)


async def test_a_closed_port_is_a_connect_failure(fetcher: PageFetcher) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = await fetch_error(fetcher, f"http://127.0.0.1:{port}/")
    assert error.reason == "connect"


# --- redirects ----------------------------------------------------------------------------


async def test_follows_redirects_up_to_the_cap(fake_web: FakeWeb) -> None:
    async with PageFetcher(settings(max_redirects=3)) as fetcher:
        page = await fetcher.fetch(f"{fake_web.url}/redirect/2?to=/pages/docs")
        error = await fetch_error(fetcher, f"{fake_web.url}/redirect/3")
    assert page.url == f"{fake_web.url}/pages/docs"
    assert page.requested_url == f"{fake_web.url}/redirect/2?to=/pages/docs"
    assert "Cache-Control explained" in page.text
    assert error.reason == "redirects"
    assert "too many redirects" in error.message


async def test_a_redirect_loop_ends_with_a_clear_failure(
    fetcher: PageFetcher, fake_web: FakeWeb
) -> None:
    error = await fetch_error(fetcher, f"{fake_web.url}/loop")
    assert error.reason == "redirects"
    assert "redirect loop" in error.message


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://[::1]:{port}/pages/english",
        "http://[::ffff:127.0.0.2]:{port}/pages/english",
        "http://127.0.0.2:{port}/pages/english",
        "http://0177.0.0.2:{port}/pages/english",
        "http://2130706434:{port}/pages/english",
        "http://10.0.0.1/",
        "file:///etc/passwd",
    ],
)
async def test_a_redirect_into_a_refused_target_is_blocked(
    fetcher: PageFetcher, fake_web: FakeWeb, target: str
) -> None:
    location = target.format(port=fake_web.port)
    error = await fetch_error(fetcher, f"{fake_web.url}/redirect-to?url={location}")
    assert error.reason == "blocked"
    assert "refused" in error.message


async def test_a_blocked_hop_is_never_requested(fake_web: FakeWeb) -> None:
    # The fake web is admitted by name only: a hop to its own IP must not reach it.
    hop = f"http://127.0.0.1:{fake_web.port}/pages/english?hop=by-ip"
    async with PageFetcher(settings(allow_hosts=["localhost"])) as fetcher:
        error = await fetch_error(
            fetcher, f"http://localhost:{fake_web.port}/redirect-to?url={hop}"
        )
    assert error.reason == "blocked"
    assert "/pages/english?hop=by-ip" not in fake_web.requests


# --- caps: status, type, size, time --------------------------------------------------------


@pytest.mark.parametrize("code", [404, 500])
async def test_error_statuses_fail(fetcher: PageFetcher, fake_web: FakeWeb, code: int) -> None:
    error = await fetch_error(fetcher, f"{fake_web.url}/status/{code}")
    assert error.reason == "http_status"
    assert f"HTTP {code}" in error.message


@pytest.mark.parametrize("path", ["/image.png", "/document.pdf", "/data.json", "/untyped"])
async def test_non_page_types_are_refused_before_the_body(fake_web: FakeWeb, path: str) -> None:
    # The body is far over max_bytes: refusing for the type proves it was never read.
    async with PageFetcher(settings(max_bytes=1000)) as fetcher:
        error = await fetch_error(fetcher, f"{fake_web.url}{path}?kb=256")
    assert error.reason == "content_type"


@pytest.mark.parametrize(
    ("path", "content_type", "needle"),
    [
        ("/notes.txt", "text/plain", "quick brown fox"),
        ("/readme.md", "text/markdown", "# Read me"),
    ],
)
async def test_text_and_markdown_are_pages(
    fetcher: PageFetcher, fake_web: FakeWeb, path: str, content_type: str, needle: str
) -> None:
    page = await fetcher.fetch(f"{fake_web.url}{path}")
    assert page.content_type == content_type
    assert needle in page.text


@pytest.mark.parametrize("query", ["mb=2", "mb=2&length=1"])
async def test_a_huge_body_is_too_large(fake_web: FakeWeb, query: str) -> None:
    async with PageFetcher(settings(max_bytes=500_000)) as fetcher:
        error = await fetch_error(fetcher, f"{fake_web.url}/huge?{query}")
    assert error.reason == "too_large"


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "deflate-raw"])
async def test_compressed_pages_are_decoded(
    fetcher: PageFetcher, fake_web: FakeWeb, encoding: str
) -> None:
    page = await fetcher.fetch(f"{fake_web.url}/compressed/chinese?encoding={encoding}")
    assert "高铁开通三年后" in page.text


@pytest.mark.parametrize("encoding", ["corrupt-gzip", "compress"])
async def test_undecodable_bodies_fail_as_decode(
    fetcher: PageFetcher, fake_web: FakeWeb, encoding: str
) -> None:
    error = await fetch_error(fetcher, f"{fake_web.url}/compressed/english?encoding={encoding}")
    assert error.reason == "decode"


async def test_a_gzip_bomb_stops_at_the_decompressed_cap_without_inflating(
    fake_web: FakeWeb,
) -> None:
    bomb = f"{fake_web.url}/gzip-bomb?mb=64"
    async with PageFetcher(settings(max_decompressed_bytes=1_000_000)) as fetcher:
        await fetch_error(fetcher, bomb)  # let the server build and cache the bomb first
        tracemalloc.start()
        try:
            error = await fetch_error(fetcher, bomb)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert error.reason == "too_large"
    assert "decompressed" in error.message
    assert peak < 16 * 1024 * 1024  # 64 MiB inflated would show here


@pytest.mark.parametrize("path", ["/hang", "/hang-body", "/trickle?chunks=20&delay=0.1"])
async def test_the_page_timeout_covers_the_whole_fetch(fake_web: FakeWeb, path: str) -> None:
    # /trickle sends a chunk every 0.1 s: only a whole-page timeout can stop it.
    async with PageFetcher(settings(page_timeout_s=0.5)) as fetcher:
        error = await fetch_error(fetcher, f"{fake_web.url}{path}")
    assert error.reason == "timeout"


# --- charsets -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("latin1-header-utf8-body", "Crème brûlée à la française"),
        ("utf8-header-gbk-body", "高铁开通三年后，山区小城的游客翻了一番"),
        ("gbk-meta", "高铁开通三年后，山区小城的游客翻了一番"),
        ("gbk-http-equiv", "农产品搭上了“高铁快车”"),
        ("cp1252", "Café “Zoë”"),
    ],
)
async def test_charsets_give_readable_text(
    fetcher: PageFetcher, fake_web: FakeWeb, case: str, needle: str
) -> None:
    page = await fetcher.fetch(f"{fake_web.url}/charset/{case}")
    assert needle in page.text
    assert "\ufffd" not in page.text


# --- fetch_pages --------------------------------------------------------------------------


def hit(url: str) -> SearchHit:
    return SearchHit(url=url, title=url.rsplit("/", 1)[-1], snippet="", engine="test")


async def first_heading(hit: SearchHit, fetched: FetchedPage) -> Page | None:
    start = fetched.text.find("<h1>")
    if start < 0:
        return None
    title = fetched.text[start + 4 : fetched.text.find("</h1>", start)]
    return Page(url=fetched.url, title=title, text=fetched.text)


async def collect(
    hits: list[SearchHit],
    fetcher: PageFetcher,
    stats: FetchStats,
    *,
    deadline_s: float = 10.0,
    concurrency: int = 4,
    extract: Extractor = first_heading,
    quorum: float = 1.0,
    quorum_grace: float = 0.0,
) -> list[PageResult]:
    deadline = asyncio.get_running_loop().time() + deadline_s
    results = fetch_pages(
        hits,
        fetcher=fetcher,
        extract=extract,
        deadline=deadline,
        concurrency=concurrency,
        stats=stats,
        quorum=quorum,
        quorum_grace=quorum_grace,
    )
    async with asyncio.timeout(deadline_s + 10), aclosing(results):
        return [result async for result in results]


def other_tasks() -> set[asyncio.Task[object]]:
    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}


async def test_fetch_pages_yields_pages_and_failures_with_their_rank(
    fetcher: PageFetcher, fake_web: FakeWeb
) -> None:
    urls = ["/pages/english", "/status/404", "/pages/chinese", "/image.png", "/notes.txt"]
    stats = FetchStats()
    results = await collect([hit(fake_web.url + url) for url in urls], fetcher, stats)

    by_rank = {result.rank: result for result in results}
    assert sorted(by_rank) == [0, 1, 2, 3, 4]
    assert by_rank[0].page is not None
    assert by_rank[0].page.title == "How Community Gardens Are Cooling City Blocks"
    assert by_rank[2].page is not None
    assert by_rank[2].page.title == "高铁开通三年后，山区小城的游客翻了一番"
    assert by_rank[1].error == "http_status"
    assert by_rank[3].error == "content_type"
    assert by_rank[4].error == "extract"  # plain text has no <h1>: the extractor found nothing
    assert by_rank[4].hit.url.endswith("/notes.txt")
    assert stats.attempted == 5
    assert stats.fetched == 3
    assert stats.failed == 3
    assert stats.failures == {"http_status": 1, "content_type": 1, "extract": 1}
    assert stats.abandoned == 0


async def test_fetch_pages_keeps_to_the_concurrency_limit(
    fetcher: PageFetcher, fake_web: FakeWeb
) -> None:
    counter = fake_web.app[IN_FLIGHT]
    counter.peak = 0
    hits = [hit(f"{fake_web.url}/slow/english?delay=0.2&n={n}") for n in range(6)]
    results = await collect(hits, fetcher, FetchStats(), concurrency=2)
    assert len([result for result in results if result.page is not None]) == 6
    assert counter.peak == 2


async def test_the_deadline_keeps_finished_pages_and_abandons_the_rest(
    fake_web: FakeWeb,
) -> None:
    urls = ["/pages/english", "/hang", "/pages/docs", "/hang-body", "/slow/chinese?delay=30"]
    stats = FetchStats()
    async with PageFetcher(settings(page_timeout_s=60)) as fetcher:
        results = await collect(
            [hit(fake_web.url + url) for url in urls], fetcher, stats, deadline_s=1.0
        )
        assert not other_tasks()
    assert sorted(result.rank for result in results) == [0, 2]
    assert all(result.page is not None for result in results)
    assert stats.abandoned == 3
    assert stats.failed == 0


async def test_after_the_quorum_a_hanging_page_gets_only_the_grace(fake_web: FakeWeb) -> None:
    urls = ["/pages/english", "/slow/docs?delay=0.3", "/pages/chinese", "/hang"]
    stats = FetchStats()
    async with PageFetcher(settings(page_timeout_s=60)) as fetcher:
        loop = asyncio.get_running_loop()
        started = loop.time()
        results = await collect(
            [hit(fake_web.url + url) for url in urls], fetcher, stats,
            deadline_s=20.0, quorum=0.75, quorum_grace=0.5,
        )  # fmt: skip
        waited = loop.time() - started
    assert sorted(result.rank for result in results) == [0, 1, 2]
    assert stats.abandoned == 1
    assert waited < 10  # far from the 20 s deadline: the hanging page was given up early


async def test_at_the_quorum_a_silent_page_is_dropped_and_an_answering_one_waited_for(
    fake_web: FakeWeb,
) -> None:
    urls = ["/pages/english", "/slow/docs?delay=0.4", "/trickle?chunks=3&delay=0.2", "/hang"]
    stats = FetchStats()
    async with PageFetcher(settings(page_timeout_s=60)) as fetcher:
        loop = asyncio.get_running_loop()
        started = loop.time()
        results = await collect(
            [hit(fake_web.url + url) for url in urls], fetcher, stats,
            deadline_s=20.0, quorum=0.5, quorum_grace=10.0,
        )  # fmt: skip
        waited = loop.time() - started
    # The quorum comes at about 0.4 s and grants a grace until about 4.4 s. The trickling page
    # has sent its headers, so it is waited for (done at about 0.6 s); /hang has sent nothing,
    # so it gets a fifth of the grace (until about 1.2 s) and nothing waits out the rest.
    assert sorted(result.rank for result in results) == [0, 1, 2]
    assert stats.abandoned == 1
    assert waited < 3.0


async def test_a_full_quorum_waits_for_every_page_until_the_deadline(fake_web: FakeWeb) -> None:
    urls = ["/pages/english", "/slow/docs?delay=1.5"]
    stats = FetchStats()
    async with PageFetcher(settings(page_timeout_s=60)) as fetcher:
        results = await collect(
            [hit(fake_web.url + url) for url in urls], fetcher, stats, deadline_s=10.0
        )
    assert sorted(result.rank for result in results) == [0, 1]
    assert stats.abandoned == 0


async def test_the_deadline_also_bounds_extraction(fetcher: PageFetcher, fake_web: FakeWeb) -> None:
    async def stuck_on_docs(hit: SearchHit, fetched: FetchedPage) -> Page | None:
        if "docs" in fetched.url:
            await asyncio.Event().wait()
        return await first_heading(hit, fetched)

    stats = FetchStats()
    hits = [hit(f"{fake_web.url}/pages/english"), hit(f"{fake_web.url}/pages/docs")]
    results = await collect(hits, fetcher, stats, deadline_s=1.0, extract=stuck_on_docs)
    assert [result.rank for result in results] == [0]
    assert stats.fetched == 2
    assert stats.abandoned == 1


async def test_cancelling_the_consumer_cancels_every_fetch(
    fetcher: PageFetcher, fake_web: FakeWeb
) -> None:
    hits = [hit(f"{fake_web.url}/hang?consumer={n}") for n in range(4)]
    stats = FetchStats()

    async def consume() -> None:
        await collect(hits, fetcher, stats, deadline_s=60)

    consumer = asyncio.create_task(consume())
    async with asyncio.timeout(10):
        while sum("/hang?consumer=" in path for path in fake_web.requests) < 4:  # noqa: ASYNC110 (the fake web runs on another thread)
            await asyncio.sleep(0.02)
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    assert not other_tasks()
    assert stats.abandoned == 4


async def test_closing_the_results_early_cancels_the_rest(
    fetcher: PageFetcher, fake_web: FakeWeb
) -> None:
    hits = [hit(f"{fake_web.url}/pages/english")] + [hit(f"{fake_web.url}/hang")] * 3
    stats = FetchStats()
    loop = asyncio.get_running_loop()
    results = fetch_pages(
        hits,
        fetcher=fetcher,
        extract=first_heading,
        deadline=loop.time() + 60,
        concurrency=4,
        stats=stats,
    )
    async with asyncio.timeout(10), aclosing(results):
        first = await anext(results)
    assert first.rank == 0
    assert not other_tasks()
    assert stats.abandoned == 3


# --- proxies ------------------------------------------------------------------------------


@pytest.fixture
def fake_proxy(fake_web: FakeWeb) -> Iterator[BackgroundServer]:
    upstreams = {"news.example": fake_web.url, "127.0.0.1": fake_web.url}
    with serve(fake_proxy_app(upstreams)) as proxy:
        yield proxy


def proxied(proxy: BackgroundServer) -> list[str]:
    return proxy._app[PROXY_LOG]


async def test_http_proxy_from_the_environment_is_used(
    fake_proxy: BackgroundServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The proxy (a configured endpoint on 127.0.0.1) is not guarded; the target is, by name.
    monkeypatch.setenv("HTTP_PROXY", fake_proxy.url)
    async with PageFetcher(settings(allow_hosts=["news.example"])) as fetcher:
        page = await fetcher.fetch("http://news.example/pages/english")
    assert "Community Gardens" in page.text
    assert proxied(fake_proxy) == ["http://news.example/pages/english"]


@pytest.mark.parametrize("target", ["http://127.0.0.1:{port}/", "http://localhost:{port}/"])
async def test_through_a_proxy_private_targets_are_refused_before_sending(
    fake_proxy: BackgroundServer,
    fake_web: FakeWeb,
    monkeypatch: pytest.MonkeyPatch,
    target: str,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", fake_proxy.url)
    async with PageFetcher(settings(allow_hosts=[])) as fetcher:
        error = await fetch_error(fetcher, target.format(port=fake_web.port))
    assert error.reason == "blocked"
    assert proxied(fake_proxy) == []


async def test_no_proxy_sends_the_request_directly(
    fake_proxy: BackgroundServer, fake_web: FakeWeb, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", fake_proxy.url)
    monkeypatch.setenv("NO_PROXY", "example.org,127.0.0.0/8")
    async with PageFetcher(settings()) as fetcher:
        page = await fetcher.fetch(f"{fake_web.url}/pages/docs?route=direct")
    assert "Cache-Control explained" in page.text
    assert proxied(fake_proxy) == []
    assert "/pages/docs?route=direct" in fake_web.requests


async def test_without_no_proxy_the_same_request_goes_through_the_proxy(
    fake_proxy: BackgroundServer, fake_web: FakeWeb, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("http_proxy", fake_proxy.url)
    async with PageFetcher(settings()) as fetcher:
        await fetcher.fetch(f"{fake_web.url}/pages/docs?route=proxy")
    assert proxied(fake_proxy) == [f"{fake_web.url}/pages/docs?route=proxy"]


# --- TLS ----------------------------------------------------------------------------------


class TLSServer(BackgroundServer):
    """BackgroundServer over TLS, recording the SNI names clients send."""

    def __init__(self, app: web.Application, context: ssl.SSLContext) -> None:
        super().__init__(app)
        self.context = context
        self.server_names: list[str | None] = []
        context.sni_callback = lambda _sock, name, _ctx: self.server_names.append(name)

    async def _start(self) -> None:
        self._runner = web.AppRunner(self._app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.context)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        self.port = server.sockets[0].getsockname()[1]


@contextmanager
def serve_tls(certificate_names: list[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[TLSServer]:
    trustme = pytest.importorskip("trustme")
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(*certificate_names).configure_cert(context)
    with authority.cert_pem.tempfile() as ca_file:
        monkeypatch.setenv("SSL_CERT_FILE", ca_file)  # httpx trusts it when set
        server = TLSServer(fake_web_app(), context)
        server.start()
        try:
            yield server
        finally:
            server.stop()


async def test_tls_verifies_and_sends_sni_for_the_url_host(monkeypatch: pytest.MonkeyPatch) -> None:
    # The guard dials the vetted 127.0.0.1, yet TLS must still speak to "localhost".
    with serve_tls(["localhost"], monkeypatch) as server:
        async with PageFetcher(settings(allow_hosts=["localhost"])) as fetcher:
            page = await fetcher.fetch(f"https://localhost:{server.port}/pages/english")
    assert "Community Gardens" in page.text
    assert server.server_names == ["localhost"]


async def test_tls_refuses_a_certificate_for_another_name(monkeypatch: pytest.MonkeyPatch) -> None:
    with serve_tls(["other.example"], monkeypatch) as server:
        async with PageFetcher(settings(allow_hosts=["localhost"])) as fetcher:
            error = await fetch_error(fetcher, f"https://localhost:{server.port}/pages/english")
    assert error.reason == "connect"
    assert "certificate" in error.message.lower()
