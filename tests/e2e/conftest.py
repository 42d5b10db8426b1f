"""A whole local world for the CLI: fake web, fake SearXNG pointing at it, fake SGLang."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from searchqa.events import Event, parse_event
from tests.fakes.searxng import FakeSearxng, searx_result
from tests.fakes.server import BackgroundServer, serve
from tests.fakes.sglang import FakeSGLang
from tests.fakes.web import fake_web_app

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class World:
    web: BackgroundServer
    searx: FakeSearxng
    searx_server: BackgroundServer
    llm: FakeSGLang
    llm_server: BackgroundServer
    home: Path

    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEARCHQA_")}
        env.update(
            HOME=str(self.home),
            XDG_DATA_HOME=str(self.home / "data"),
            NO_PROXY="*",
            SEARCHQA_LLM__BASE_URL=f"{self.llm_server.url}/v1",
            SEARCHQA_SEARCH__ENGINES="searxng",
            SEARCHQA_SEARCH__SEARXNG_URL=self.searx_server.url,
            SEARCHQA_FETCH__ALLOW_HOSTS="127.0.0.1",
            # Generous: a cold CLI process on a loaded machine must still extract every page.
            SEARCHQA_FETCH__DEADLINE_S="20",
            SEARCHQA_FETCH__PAGE_TIMEOUT_S="15",
            SEARCHQA_PROMPT__TIMEZONE="UTC",
        )
        env.update(overrides)
        return env

    def run(
        self, *args: str, stdin: str | None = None, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "searchqa.cli", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=dict(env) if env is not None else self.env(),
            cwd=self.home,
            timeout=60,
            check=False,
        )

    def page(self, name: str) -> str:
        return f"{self.web.url}/pages/{name}"


def events_of(stdout: str) -> list[Event]:
    return [parse_event(line) for line in stdout.splitlines() if line.strip()]


@contextmanager
def text_world(home: Path, llm: FakeSGLang) -> Iterator[World]:
    """Fake web, SearXNG and ``llm``, searching two text pages (no extraction worker needed)."""
    searx = FakeSearxng()
    with serve(fake_web_app()) as web, serve(searx.app()) as searx_server:
        searx.results = [
            searx_result(f"{web.url}/notes.txt", "Notes", "Gardens cool blocks."),
            searx_result(f"{web.url}/readme.md", "Readme", "How caching works.", position=2),
        ]
        with serve(llm.app()) as llm_server:
            yield World(web, searx, searx_server, llm, llm_server, home)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    searx = FakeSearxng()
    llm = FakeSGLang()
    with serve(fake_web_app()) as web, serve(searx.app()) as searx_server:
        searx.results = [
            searx_result(f"{web.url}/pages/english", "Community gardens", "Gardens cool blocks."),
            searx_result(
                f"{web.url}/pages/docs", "Cache-Control", "How caching works.", position=2
            ),
        ]
        with serve(llm.app()) as llm_server:
            yield World(web, searx, searx_server, llm, llm_server, tmp_path)
