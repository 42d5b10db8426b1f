"""API keys, CORS and rate limits through the real app, Redis and a two-worker server."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from searchqa.api.app import create_app
from searchqa.api.auth import hash_key
from searchqa.events import DoneEvent
from searchqa.settings import AuthSettings, RedisSettings, Settings
from tests.integration.api_support import AppServer, World, events_of, local_world, parse_frames

Client = AsyncTestClient[Litestar]
QUESTION = "How do community gardens cool cities?"
SECRET = "sk_test_0123456789abcdef"
WIDGET = "pk_test_widget_key"
SHOP = "https://shop.example"


@pytest.fixture
def world() -> Iterator[World]:
    with local_world() as world:
        yield world


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def auth_log() -> Iterator[list[logging.LogRecord]]:
    """What searchqa.api.auth logs, whatever the process's logging setup does to the root."""
    handler, logger = Records(), logging.getLogger("searchqa.api.auth")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler.records
    logger.removeHandler(handler)
    logger.setLevel(level)


def with_auth(world: World, redis_url: str | None = None, **auth: Any) -> Settings:
    update: dict[str, Any] = {"auth": AuthSettings.model_validate(auth)}
    if redis_url is not None:
        update["redis"] = RedisSettings(url=redis_url)
    return world.settings.model_copy(update=update)


@pytest.fixture
async def keyed(world: World, tmp_path: Path) -> AsyncIterator[Client]:
    """One secret key (stored hashed, in a file) and one publishable key for SHOP."""
    keys = tmp_path / "keys.toml"
    keys.write_text(
        f'[[keys]]\nname = "backend"\nkey = "{hash_key(SECRET)}"\n\n'
        f'[[keys]]\nname = "widget"\nkind = "publishable"\nkey = "{WIDGET}"\n'
        f'origins = ["{SHOP}"]\n',
        encoding="utf-8",
    )
    app = create_app(with_auth(world, keys_file=keys, cors_origins=["https://docs.example"]))
    async with AsyncTestClient(app) as client:
        yield client


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def answered(response: httpx.Response) -> bool:
    """A finished answer, as JSON or as an event stream."""
    if response.status_code != 200:
        return False
    if response.headers["content-type"].startswith("application/json"):
        return bool(response.json()["status"] == "done")
    return isinstance(events_of(parse_frames(response.text))[-1], DoneEvent)


async def ask(client: Client | httpx.AsyncClient, **headers: str) -> httpx.Response:
    return await client.post(
        "/v1/answer", json={"query": QUESTION, "stream": False}, headers=headers
    )


# -- keys ------------------------------------------------------------------------------------


async def test_without_keys_the_api_is_open_and_warns_at_startup(
    world: World, auth_log: list[logging.LogRecord]
) -> None:
    async with AsyncTestClient(create_app(world.settings)) as client:
        response = await ask(client)

    assert answered(response)
    assert response.headers["ratelimit-limit"] == "60"
    (warning,) = [r for r in auth_log if r.levelno == logging.WARNING]
    assert "no API keys configured" in warning.getMessage()


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": f"Bearer {SECRET}"}, {"X-API-Key": SECRET}],
    ids=["bearer", "x-api-key"],
)
async def test_secret_key_in_either_header_answers(
    auth_log: list[logging.LogRecord], keyed: Client, headers: dict[str, str]
) -> None:
    response = await ask(keyed, **headers)

    assert answered(response)
    assert response.headers["ratelimit-limit"] == "120"
    assert [r.getMessage() for r in auth_log] == ["API keys: 1 secret, 1 publishable"]


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({}, None),
        ({"Authorization": "Bearer sk_test_wrong"}, "invalid_token"),
        ({"X-API-Key": "sk_test_wrong"}, "invalid_token"),
        ({"Authorization": f"Basic {SECRET}"}, None),
    ],
    ids=["missing", "wrong-bearer", "wrong-x-api-key", "not-bearer"],
)
async def test_missing_or_unknown_key_is_401(
    keyed: Client, world: World, headers: dict[str, str], error: str | None
) -> None:
    response = await ask(keyed, **headers)

    body = assert_problem(response, 401)
    assert body["code"] == "unauthorized"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer")
    assert (f'error="{error}"' in challenge) if error else ("error=" not in challenge)
    assert world.chat_requests() == 0


async def test_secret_key_in_the_url_is_refused(keyed: Client) -> None:
    response = await keyed.get("/v1/answer", params={"q": QUESTION, "key": SECRET})

    body = assert_problem(response, 401)
    assert "headers only" in body["detail"]


async def test_health_and_schema_stay_open(keyed: Client) -> None:
    assert (await keyed.get("/healthz")).status_code == 200
    schema = await keyed.get("/schema/openapi.json")
    assert schema.status_code == 200
    assert "/v1/answer" in schema.json()["paths"]


async def test_metrics_can_be_put_behind_a_secret_key(world: World) -> None:
    settings = with_auth(world, secret_keys=SECRET, protect_metrics=True)
    async with AsyncTestClient(create_app(settings)) as client:
        anonymous = await client.get("/metrics")
        operator = await client.get("/metrics", headers={"X-API-Key": SECRET})

    assert_problem(anonymous, 401)
    assert operator.status_code == 200


async def test_openai_clients_see_a_401_they_understand(world: World) -> None:
    app = create_app(with_auth(world, secret_keys=SECRET))
    with AppServer(app) as server:
        denied = openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key="nope", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as caught:
            await denied.models.list()
        assert caught.value.response.headers["www-authenticate"].startswith("Bearer")
        allowed = openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key=SECRET, max_retries=0)
        assert [model.id async for model in allowed.models.list()] == ["searchqa"]


# -- publishable keys ------------------------------------------------------------------------


async def test_publishable_key_works_from_its_origin(keyed: Client) -> None:
    response = await ask(keyed, **{"X-API-Key": WIDGET, "Origin": SHOP})

    assert answered(response)
    assert response.headers["access-control-allow-origin"] == SHOP
    assert "ratelimit-remaining" in response.headers["access-control-expose-headers"].lower()
    assert response.headers["ratelimit-limit"] == "10"


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.example"}, {"Referer": "https://evil.example/page"}, {}],
    ids=["other-origin", "other-referer", "no-origin"],
)
async def test_publishable_key_from_elsewhere_is_403(
    keyed: Client, world: World, headers: dict[str, str]
) -> None:
    response = await ask(keyed, **{"X-API-Key": WIDGET} | headers)

    body = assert_problem(response, 403)
    assert body["code"] == "forbidden"
    assert "access-control-allow-origin" not in response.headers
    assert world.chat_requests() == 0


@pytest.mark.parametrize(
    "headers", [{"Origin": SHOP}, {"Referer": f"{SHOP}/products/1"}], ids=["origin", "referer"]
)
async def test_eventsource_sends_the_publishable_key_in_the_url(
    keyed: Client, headers: dict[str, str]
) -> None:
    response = await keyed.get("/v1/answer", params={"q": QUESTION, "key": WIDGET}, headers=headers)

    assert response.headers["content-type"].startswith("text/event-stream")
    assert answered(response)
    request_id = parse_frames(response.text)[0].id
    assert request_id is not None
    replay = await keyed.get(
        f"/v1/answers/{request_id.rsplit('-', 1)[0]}/events",
        params={"key": WIDGET},
        headers=headers,
    )
    assert answered(replay)


async def test_publishable_key_cannot_use_other_routes(keyed: Client) -> None:
    browser = {"X-API-Key": WIDGET, "Origin": SHOP}
    answer = await ask(keyed, **browser)
    request_id = answer.json()["request_id"]

    stop = await keyed.delete(f"/v1/answers/{request_id}", headers=browser)
    upload = await keyed.post(
        "/v1/files/answer",
        files={"file": ("notes.txt", b"Gardens cool blocks.", "text/plain")},
        data={"question": "What cools blocks?"},
        headers=browser,
    )
    chat = await keyed.post(
        "/v1/chat/completions",
        json={"model": "searchqa", "messages": [{"role": "user", "content": QUESTION}]},
        headers=browser,
    )

    assert "publishable keys may only" in assert_problem(stop, 403)["detail"]
    assert_problem(upload, 403)
    assert chat.status_code == 403
    assert "publishable keys may only" in chat.json()["error"]["message"]
    document = await keyed.get(f"/v1/answers/{request_id}", headers=browser)
    assert document.json()["status"] == "done"


# -- CORS ------------------------------------------------------------------------------------


@pytest.mark.parametrize("origin", [SHOP, "https://docs.example"], ids=["key-origin", "cors"])
async def test_preflight_from_an_allowed_origin(keyed: Client, origin: str) -> None:
    response = await keyed.options(
        "/v1/answer",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, X-API-Key, Content-Type, "
            "Last-Event-ID",
        },
    )

    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == origin
    allowed = {
        h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
    }
    assert {"authorization", "x-api-key", "content-type", "last-event-id"} <= allowed
    assert "POST" in response.headers["access-control-allow-methods"]


async def test_preflight_from_another_origin_gets_no_cors_headers(keyed: Client) -> None:
    response = await keyed.options(
        "/v1/answer",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )

    assert response.status_code >= 400
    assert "access-control-allow-origin" not in response.headers


# -- rate limits -----------------------------------------------------------------------------


async def test_rate_limit_allows_n_then_429_with_retry_after(world: World, redis_url: str) -> None:
    settings = with_auth(world, redis_url, secret_keys=SECRET, secret_rate_limit=2)
    bearer = {"Authorization": f"Bearer {SECRET}"}
    async with AsyncTestClient(create_app(settings)) as client:
        first, second, third = [await ask(client, **bearer) for _ in range(3)]
        request_id = first.json()["request_id"]
        document = await client.get(f"/v1/answers/{request_id}", headers=bearer)
        resume = await client.get(
            "/v1/answer", headers=bearer | {"Last-Event-ID": f"{request_id}-1"}
        )

    assert answered(first)
    assert answered(second)
    assert [r.headers["ratelimit-remaining"] for r in (first, second)] == ["1", "0"]
    assert all(r.headers["ratelimit-limit"] == "2" for r in (first, second, third))
    assert 0 < int(first.headers["ratelimit-reset"]) <= 60
    body = assert_problem(third, 429)
    assert body["code"] == "rate_limited"
    assert 0 < int(third.headers["retry-after"]) <= 60
    assert third.headers["ratelimit-remaining"] == "0"
    assert world.chat_requests() == 1  # the second was the cached answer; the third never ran
    assert document.status_code == 200  # reading and resuming spend nothing
    assert answered(resume)


async def test_forwarded_for_is_trusted_only_from_configured_proxies(world: World) -> None:
    async def allowed(trusted: list[str], chains: list[str]) -> list[bool]:
        app = create_app(with_auth(world, anonymous_rate_limit=1, trusted_proxies=trusted))
        server = AppServer(app)
        server.server.config.proxy_headers = False  # as `searchqa serve` runs it
        with server:
            async with httpx.AsyncClient(base_url=server.url, trust_env=False) as client:
                responses = [await ask(client, **{"X-Forwarded-For": c}) for c in chains]
        return [r.status_code == 200 for r in responses]

    chains = ["198.51.100.1", "198.51.100.1", "198.51.100.2", "203.0.113.7, 198.51.100.2"]
    assert await allowed(["127.0.0.0/8"], chains) == [True, False, True, False]
    assert await allowed([], chains) == [True, False, False, False]


async def test_publishable_budgets_are_per_visitor_and_secret_ones_per_key(world: World) -> None:
    settings = with_auth(
        world,
        secret_keys=SECRET,
        publishable_keys=WIDGET,
        cors_origins=SHOP,
        secret_rate_limit=1,
        publishable_rate_limit=1,
        trusted_proxies="127.0.0.1",
    )
    server = AppServer(create_app(settings))
    server.server.config.proxy_headers = False
    visitors = ["198.51.100.1", "198.51.100.1", "198.51.100.2"]
    with server:
        async with httpx.AsyncClient(base_url=server.url, trust_env=False) as client:
            widget = [
                await ask(client, **{"X-API-Key": WIDGET, "Origin": SHOP, "X-Forwarded-For": v})
                for v in visitors
            ]
            backend = [
                await ask(client, **{"X-API-Key": SECRET, "X-Forwarded-For": v}) for v in visitors
            ]

    assert [r.status_code for r in widget] == [200, 429, 200]
    assert [r.status_code for r in backend] == [200, 429, 429]
    assert widget[1].headers["access-control-allow-origin"] == SHOP  # the browser may read it
    assert widget[1].headers["retry-after"]


# -- two workers -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _workers(parent: int) -> list[int]:
    """The worker processes uvicorn spawned (not multiprocessing's resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or b"spawn_main" not in (entry / "cmdline").read_bytes():
                continue
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            found.append(int(entry.name))
    return found


def _connections_by_worker(workers: list[int], port: int) -> dict[int, int]:
    """Client port -> worker pid, for every established connection to ``port``."""
    owner = {}
    for pid in workers:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            target = os.readlink(fd) if fd.is_symlink() else ""
            if target.startswith("socket:["):
                owner[int(target[8:-1])] = pid
    clients = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port, remote_port = (int(f.rsplit(":", 1)[1], 16) for f in fields[1:3])
            if fields[3] == "01" and local_port == port and int(fields[9]) in owner:
                clients[remote_port] = owner[int(fields[9])]
    return clients


@pytest.fixture
def two_workers(world: World, redis_url: str, tmp_path: Path) -> Iterator[tuple[str, list[int]]]:
    """``searchqa serve --workers 2`` on a free port; its URL and worker pids."""
    s, port = world.settings, _free_port()
    env = os.environ | {
        "SEARCHQA_REDIS__URL": redis_url,
        "SEARCHQA_AUTH__ANONYMOUS_RATE_LIMIT": "4",
        "SEARCHQA_LLM__BASE_URL": str(s.llm.base_url),
        "SEARCHQA_SEARCH__ENGINES": "searxng",
        "SEARCHQA_SEARCH__SEARXNG_URL": str(s.search.searxng_url),
        "SEARCHQA_FETCH__ALLOW_HOSTS": "127.0.0.1",
        "SEARCHQA_FETCH__EXTRACT_WORKERS": "1",
        "SEARCHQA_INDEX__PATH": str(tmp_path / "index.sqlite3"),
        "SEARCHQA_SERVER__SHUTDOWN_GRACE_S": "1",
    }
    command = [sys.executable, "-m", "searchqa.cli", "serve", "--port", str(port), "--workers", "2"]
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=output, stderr=output)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 30
        while log.read_text().count("Application startup complete") < 2:
            assert process.poll() is None, f"searchqa serve exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"searchqa serve did not start:\n{log.read_text()}"
            time.sleep(0.05)
        workers = _workers(process.pid)
        assert len(workers) == 2
        yield f"http://127.0.0.1:{port}", workers
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            for pid in [process.pid, *workers]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            process.wait()
            pytest.fail(f"searchqa serve did not stop on SIGTERM:\n{log.read_text()}")


async def test_two_workers_share_one_limit(two_workers: tuple[str, list[int]]) -> None:
    url, workers = two_workers
    port = int(url.rsplit(":", 1)[1])
    by_worker: dict[int, list[httpx.AsyncClient]] = {}
    clients: list[httpx.AsyncClient] = []
    try:
        while len(by_worker) < 2:  # one keep-alive connection per client, until both serve
            assert len(clients) < 40, "every connection went to one worker"
            client = httpx.AsyncClient(base_url=url, trust_env=False, timeout=20)
            clients.append(client)
            probe = await client.get("/healthz")
            client_port = probe.extensions["network_stream"].get_extra_info("client_addr")[1]
            owner = _connections_by_worker(workers, port)[client_port]
            by_worker.setdefault(owner, []).append(client)
        first, second = by_worker.values()
        # Each worker gets 6 requests, more than the limit of 4: a limit per worker lets 8 by.
        statuses = []
        for n in range(12):
            group = (first, second)[n % 2]
            response = await ask(group[n // 2 % len(group)], **{"X-Forwarded-For": f"192.0.2.{n}"})
            statuses.append(response.status_code)
    finally:
        for client in clients:
            await client.aclose()

    assert statuses.count(200) == 4, statuses
    assert statuses.count(429) == 8, statuses
