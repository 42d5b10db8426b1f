"""The OpenAPI document against the service: schemathesis, then the details it relies on.

The schemathesis run is bounded (fixed seed, at most ``MAX_EXAMPLES`` cases per operation in
its fuzzing phase: about 570 cases in all, some 30 s here, killed past ``RUN_TIMEOUT_S``) and
checks status codes, content types, response schemas and headers, that no request gets a 5xx,
that schema-valid input is accepted and invalid input refused, and the ``Allow`` header.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from searchqa.api.app import create_app
from searchqa.settings import AuthSettings, Settings
from tests.integration.api_support import AppServer, World, local_world

Client = AsyncTestClient[Litestar]
MAX_EXAMPLES = 25
RUN_TIMEOUT_S = 150
SEED = 20240607
# Some refusals depend on what JSON Schema cannot state, so for these two operations (only) the
# positive-data check also accepts them: a chat's question is the *last* user message, which
# must hold text (400 no_question / empty_query); an upload is read from its bytes, which may be
# of no supported type (415) or hold no text (400 empty_file).
ACCEPTED = ["2xx", "401", "403", "404", "429"]
CHAT_ACCEPTS = json.dumps([*ACCEPTED, "400"])
UPLOAD_ACCEPTS = json.dumps([*ACCEPTED, "400", "415"])
SCHEMATHESIS_CONFIG = f"""
seed = {SEED}

[generation]
database = "none"

[[operations]]
include-path = "/v1/chat/completions"
checks.positive_data_acceptance.expected-statuses = {CHAT_ACCEPTS}

[[operations]]
include-path = "/v1/files/answer"
checks.positive_data_acceptance.expected-statuses = {UPLOAD_ACCEPTS}
"""


def unlimited(settings: Settings) -> Settings:
    """Thousands of questions a minute: the rate limit would answer most of them otherwise."""
    return settings.model_copy(update={"auth": AuthSettings(anonymous_rate_limit=0)})


@pytest.fixture
def world() -> Iterator[World]:
    with local_world() as world:
        yield world


@pytest.fixture
async def client(world: World) -> AsyncIterator[Client]:
    async with AsyncTestClient(create_app(unlimited(world.settings))) as client:
        yield client


def test_schemathesis_finds_no_disagreement(world: World, tmp_path: Path) -> None:
    (tmp_path / "schemathesis.toml").write_text(SCHEMATHESIS_CONFIG)
    with AppServer(create_app(unlimited(world.settings))) as api:
        run = subprocess.run(
            [
                *(sys.executable, "-m", "schemathesis.cli", "run"),
                f"{api.url}/schema/openapi.json",
                *("--checks", "all", "--max-examples", str(MAX_EXAMPLES), "--workers", "1"),
                *("--request-timeout", "20", "--output-truncate", "false"),
            ],
            cwd=tmp_path,  # its config above; its caches stay out of the work tree
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    generated = re.search(r"(\d+) generated", report)
    assert generated is not None, report
    assert int(generated.group(1)) >= 200, report


async def document(client: Client) -> dict[str, Any]:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_event_streams_are_documented_message_by_message(client: Client) -> None:
    doc = await document(client)
    assert doc["openapi"].startswith("3.2")
    for path, method in [
        ("/v1/answer", "post"),
        ("/v1/answer", "get"),
        ("/v1/answers/{request_id}/events", "get"),
        ("/v1/files/answer", "post"),
        ("/v1/chat/completions", "post"),
    ]:
        stream = doc["paths"][path][method]["responses"]["200"]["content"]["text/event-stream"]
        assert "schema" not in stream  # in 3.2 that would describe the whole stream
        assert stream["itemSchema"]["type"] == "object"
        assert "data" in stream["itemSchema"]["required"]
    answer = doc["paths"]["/v1/answer"]["post"]["responses"]["200"]["content"]
    branches = answer["text/event-stream"]["itemSchema"]["oneOf"]
    kinds = [branch["properties"]["event"]["const"] for branch in branches]
    assert sorted(kinds) == sorted(
        ["meta", "status", "sources", "reasoning", "answer", "citation", "done", "error"]
    )


@pytest.mark.parametrize(
    ("path", "methods"),
    [("/v1/answer", "GET, OPTIONS, POST"), ("/v1/answers/0123abcd", "DELETE, GET, OPTIONS")],
)
async def test_options_lists_every_method_of_a_path(
    client: Client, path: str, methods: str
) -> None:
    response = await client.options(path)
    assert response.status_code == 204
    assert response.headers["allow"] == methods


async def test_refusals_of_query_parameters_are_documented(client: Client) -> None:
    doc = await document(client)
    response = await client.get("/v1/answers/0123abcd/events", params={"after": "AAA"})
    assert response.status_code == 422
    assert "422" in doc["paths"]["/v1/answers/{request_id}/events"]["get"]["responses"]


async def test_what_the_schema_allows_is_answered(client: Client) -> None:
    doc = await document(client)
    engines = doc["components"]["schemas"]["AnswerBody"]["properties"]["engines"]
    (listed,) = [option for option in engines["oneOf"] if option["type"] == "array"]
    assert listed["items"]["enum"] == ["searxng"]
    assert listed["uniqueItems"] is True
    body = {"query": "Why are gardens cool?", "engines": [], "stream": False}
    assert (await client.post("/v1/answer", json=body)).status_code == 200
    repeated = {"q": "Why are gardens cool?", "engines": "searxng,searxng", "stream": "false"}
    assert (await client.get("/v1/answer", params=repeated)).status_code == 200


async def test_what_the_schema_refuses_is_refused(client: Client) -> None:
    doc = await document(client)
    (q,) = [p for p in doc["paths"]["/v1/answer"]["get"]["parameters"] if p["name"] == "q"]
    assert q["required"] is True
    assert re.search(q["schema"]["pattern"], "   ") is None
    assert re.search(q["schema"]["pattern"], "Why?") is not None
    response = await client.get("/v1/answer", params={"q": ""})
    assert response.status_code == 400
    assert "400" in doc["paths"]["/v1/answer"]["get"]["responses"]


async def test_the_schema_page_loads_nothing_from_elsewhere(client: Client) -> None:
    page = await client.get("/schema")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources
    assert all(source.startswith("/") for source in sources), sources
    (script,) = [s for s in sources if s.endswith(".js")]
    assert re.search(r"\d+\.\d+\.\d+", script), "the bundle's version is pinned in its name"
    asset = await client.get(script)
    assert asset.status_code == 200
    assert asset.headers["content-type"].startswith("text/javascript")
    assert len(asset.content) > 1_000_000
    assert "@latest" not in page.text
