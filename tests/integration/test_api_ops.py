"""Operations: /metrics (also summed over two workers), JSON logs with request ids, /schema."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from searchqa.api.app import create_app
from searchqa.events import DoneEvent, ErrorEvent, MetaEvent
from tests.fakes.redis import run_redis
from tests.fakes.searxng import FakeSearxng, searx_result
from tests.fakes.served import ServeProcess
from tests.fakes.server import serve
from tests.fakes.sglang import FakeSGLang
from tests.fakes.web import fake_web_app
from tests.integration.api_support import (
    AppServer,
    World,
    events_of,
    iter_frames,
    local_world,
    parse_frames,
)

QUESTION = "How do community gardens cool cities?"
SECRET = "sk-live-0123456789abcdef"
LLM_SECRET = "llm-key-fedcba9876543210"
EVENT_TYPES = ("meta", "status", "sources", "reasoning", "answer", "citation", "done", "error")


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the series ``name{labels}`` in a Prometheus exposition (None: absent)."""
    for family in text_string_to_metric_families(text):
        for series in family.samples:
            if series.name == name and series.labels == labels:
                return float(series.value)
    return None


def client(url: str, **options: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, timeout=30, trust_env=False, **options)


@pytest.fixture
def world() -> Iterator[World]:
    with local_world() as world:
        yield world


# -- /metrics in one process -----------------------------------------------------------------


async def test_metrics_count_requests_answers_timings_and_cache_hits(world: World) -> None:
    body = {"query": QUESTION, "stream": False}
    with AppServer(create_app(world.settings)) as server:
        async with client(server.url) as http:
            first = (await http.post("/v1/answer", json=body)).json()
            second = (await http.post("/v1/answer", json=body)).json()
            missing = await http.get("/no/such/route")
            response = await http.get("/metrics")

    assert (first["status"], first["cached"], second["cached"]) == ("done", False, True)
    assert missing.status_code == 404
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    requests = "searchqa_http_requests_total"
    assert sample(text, requests, route="/v1/answer", method="POST", status="200") == 2
    assert sample(text, requests, route="unmatched", method="GET", status="404") == 1
    assert sample(text, "searchqa_answers_total", cached="false") == 1
    assert sample(text, "searchqa_answers_total", cached="true") == 1
    assert sample(text, "searchqa_cache_misses_total", cache="answer") == 1
    assert sample(text, "searchqa_cache_hits_total", cache="answer") == 1
    assert sample(text, "searchqa_cache_misses_total", cache="search") == 1
    assert sample(text, "searchqa_cache_misses_total", cache="page") == 2
    # The replay is not timed again: one observation per stage, the generated answer's.
    timings = first["timings"]
    for stage, field in [("search", "search_ms"), ("fetch", "fetch_ms"), ("total", "total_ms")]:
        name = "searchqa_stage_duration_seconds"
        assert sample(text, f"{name}_count", stage=stage) == 1
        assert sample(text, f"{name}_bucket", stage=stage, le="+Inf") == 1
        assert sample(text, f"{name}_sum", stage=stage) == pytest.approx(timings[field] / 1000)
    ttft = "searchqa_time_to_first_token_seconds"
    assert sample(text, f"{ttft}_count") == 1
    assert sample(text, f"{ttft}_sum") == pytest.approx(timings["first_token_ms"] / 1000)
    assert sample(text, "searchqa_active_streams") == 0


async def test_open_streams_and_failed_answers_show_in_metrics(world: World) -> None:
    world.llm.token_delay_s = 0.01
    with AppServer(create_app(world.settings)) as server:
        async with client(server.url) as http:
            async with http.stream("POST", "/v1/answer", json={"query": QUESTION}) as stream:
                frames = iter_frames(stream)
                first = await anext(frames)
                during = (await http.get("/metrics")).text
                rest = [frame async for frame in frames]
            # The server closes its side just after the last frame: give it a moment.
            for _ in range(40):
                after = (await http.get("/metrics")).text
                if sample(after, "searchqa_active_streams") == 0:
                    break
                await asyncio.sleep(0.05)
            world.llm.error_after_chunks = 1
            failed = await http.post("/v1/answer", json={"query": "Why is the sky blue?"})
            metrics = (await http.get("/metrics")).text

    assert isinstance(first.parsed(), MetaEvent)
    assert isinstance(rest[-1].parsed(), DoneEvent)
    assert sample(during, "searchqa_active_streams") == 1
    assert sample(after, "searchqa_active_streams") == 0
    error = events_of(parse_frames(failed.text))[-1]
    assert isinstance(error, ErrorEvent)
    assert sample(metrics, "searchqa_errors_total", code=error.code) == 1
    assert sample(metrics, "searchqa_answers_total", cached="false") == 1


# -- /schema ---------------------------------------------------------------------------------


async def test_schema_documents_every_route_and_the_event_stream(world: World) -> None:
    with AppServer(create_app(world.settings)) as server:
        async with client(server.url) as http:
            document = (await http.get("/schema/openapi.json")).json()
            page = await http.get("/schema")
            stream = await http.post("/v1/answer", json={"query": QUESTION})

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    paths = document["paths"]
    for path, method in [
        ("/v1/answer", "post"),
        ("/v1/answer", "get"),
        ("/v1/answers/{request_id}", "get"),
        ("/v1/answers/{request_id}", "delete"),
        ("/v1/answers/{request_id}/events", "get"),
        ("/v1/files/answer", "post"),
        ("/v1/chat/completions", "post"),
        ("/v1/models", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    ]:
        assert method in paths.get(path, {}), f"{method.upper()} {path} is not documented"
    schemas = document["components"]["schemas"]
    union = schemas["Event"]
    assert union["discriminator"]["propertyName"] == "type"
    mapping = union["discriminator"]["mapping"]
    assert sorted(mapping) == sorted(EVENT_TYPES)
    for kind, ref in mapping.items():
        name = ref.removeprefix("#/components/schemas/")
        assert name == f"{kind.capitalize()}Event"
        assert "type" in schemas[name]["required"]
        assert {"$ref": ref} in union["oneOf"]
    for path, method in [
        ("/v1/answer", "post"),
        ("/v1/answer", "get"),
        ("/v1/answers/{request_id}/events", "get"),
        ("/v1/files/answer", "post"),
    ]:
        content = paths[path][method]["responses"]["200"]["content"]
        item = content["text/event-stream"]["itemSchema"]
        refs = {b["properties"]["data"]["contentSchema"]["$ref"] for b in item["oneOf"]}
        assert refs == set(mapping.values())
    chat = paths["/v1/chat/completions"]["post"]["responses"]["200"]["content"]
    data = chat["text/event-stream"]["itemSchema"]["properties"]["data"]
    assert "/ChatCompletionChunk" in str(data)
    # What the stream really sends fits what the schema says.
    for event in events_of(parse_frames(stream.text)):
        wire = event.to_dict()
        component = schemas[f"{event.type.capitalize()}Event"]
        assert set(wire) <= set(component["properties"]), event.type
        assert set(component["required"]) <= set(wire), event.type


# -- two workers: metrics summed through Redis, JSON logs --------------------------------------


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    home = tmp_path_factory.mktemp("ops")
    searx, llm = FakeSearxng(), FakeSGLang()
    llm.api_key = LLM_SECRET
    (home / "redis").mkdir()
    with (
        run_redis(home / "redis") as redis,
        serve(fake_web_app()) as web,
        serve(searx.app()) as searx_server,
        serve(llm.app()) as llm_server,
    ):
        searx.results = [searx_result(f"{web.url}/notes.txt", "Notes", "Gardens cool blocks.")]
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEARCHQA_")}
        env.update(
            HOME=str(home),
            XDG_DATA_HOME=str(home / "data"),
            NO_PROXY="*",
            SEARCHQA_LLM__BASE_URL=f"{llm_server.url}/v1",
            SEARCHQA_LLM__API_KEY=LLM_SECRET,
            SEARCHQA_SEARCH__ENGINES="searxng",
            SEARCHQA_SEARCH__SEARXNG_URL=searx_server.url,
            SEARCHQA_FETCH__ALLOW_HOSTS="127.0.0.1",
            SEARCHQA_PROMPT__TIMEZONE="UTC",
            SEARCHQA_REDIS__URL=redis.url,
        )
        served = ServeProcess(home, env, "--workers", "2")
        try:
            yield served
        finally:
            served.stop()


async def test_metrics_sum_the_requests_both_workers_served(workers: ServeProcess) -> None:
    route = "/v1/answers/{request_id}"
    sent = 0
    pids: set[int] = set()
    # A new connection per request, so the kernel hands them to either worker.
    fresh = httpx.Limits(max_keepalive_connections=0)
    async with client(workers.url, limits=fresh) as http:
        for _ in range(20):
            batch = [http.get(f"/v1/answers/{uuid.uuid4().hex}") for _ in range(12)]
            statuses = {response.status_code for response in await asyncio.gather(*batch)}
            assert statuses == {404}
            sent += len(batch)
            await asyncio.sleep(0.2)  # access lines are written as each response ends
            pids = {
                line["pid"]
                for line in workers.log_lines()
                if line.get("route") == route and line.get("status") == 404
            }
            if len(pids) >= 2:
                break
        assert len(pids) == 2, "the kernel sent every request to one worker"
        deadline = time.monotonic() + 15
        while True:  # each worker adds its counts to Redis about once a second
            text = (await http.get("/metrics")).text
            total = sample(
                text, "searchqa_http_requests_total", route=route, method="GET", status="404"
            )
            if total == sent or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
    assert total == sent


async def test_logs_are_json_lines_with_request_ids_and_without_secrets(
    workers: ServeProcess,
) -> None:
    async with client(workers.url) as http:
        response = await http.post(
            "/v1/answer",
            json={"query": QUESTION, "stream": False},
            headers={"X-Request-ID": "ops-check-1"},
        )
        answer_id = response.json()["request_id"]
        await http.get("/v1/models", headers={"Authorization": f"Bearer {SECRET}"})
        await http.get("/v1/models", headers={"X-API-Key": SECRET})
        await http.get(f"/v1/answers/{answer_id}", params={"key": SECRET})
        await http.get("/no/such/route", headers={"Authorization": f"Bearer {SECRET}"})

    assert response.status_code == 200
    assert response.headers["x-request-id"] == "ops-check-1"
    deadline = time.monotonic() + 10
    while True:
        lines = workers.log_lines()  # every line of stderr must be one JSON object
        access = [line for line in lines if line["logger"] == "searchqa.access"]
        if len(access) >= 5 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    for line in lines:
        assert {"timestamp", "level", "logger", "message", "pid"} <= set(line)
    asked = next(line for line in access if line.get("request_id") == "ops-check-1")
    assert asked["answer_id"] == answer_id
    assert (asked["method"], asked["route"], asked["status"]) == ("POST", "/v1/answer", 200)
    assert asked["path"] == "/v1/answer"
    assert asked["duration_ms"] > 0
    read = next(line for line in access if line["path"] == f"/v1/answers/{answer_id}")
    assert read["request_id"] != "ops-check-1"  # every request gets its own
    assert any(line.get("route") == "unmatched" for line in access)
    output = workers.output()
    assert SECRET not in output
    assert LLM_SECRET not in output
