"""Helpers for HTTP API tests: a local world of fakes, SSE parsing, the app under real uvicorn."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import uvicorn
from litestar import Litestar

from searchqa.events import Event, parse_event
from searchqa.settings import (
    FetchSettings,
    LLMSettings,
    PromptSettings,
    SearchSettings,
    ServerSettings,
    Settings,
)
from tests.fakes.searxng import FakeSearxng, searx_result
from tests.fakes.server import BackgroundServer, serve
from tests.fakes.sglang import FakeSGLang
from tests.fakes.web import fake_web_app

SLOW_ANSWER = "Shade and water cool the block [citation:1]. " + "More detail follows here. " * 60


@dataclass
class World:
    """Fake web, SearXNG and SGLang, and settings that point searchqa at them."""

    web: BackgroundServer
    searx: FakeSearxng
    llm: FakeSGLang
    settings: Settings

    def chat_requests(self) -> int:
        return sum(r.path.endswith("/chat/completions") for r in self.llm.requests)


@contextmanager
def local_world(**server: object) -> Iterator[World]:
    """Text pages only, so no extraction worker has to start."""
    searx, llm = FakeSearxng(), FakeSGLang()
    with (
        serve(fake_web_app()) as web,
        serve(searx.app()) as searx_server,
        serve(llm.app()) as llm_server,
    ):
        searx.results = [
            searx_result(f"{web.url}/notes.txt", "Notes", "Gardens cool blocks."),
            searx_result(f"{web.url}/readme.md", "Readme", "How caching works.", position=2),
        ]
        settings = Settings(
            llm=LLMSettings(base_url=f"{llm_server.url}/v1"),
            search=SearchSettings(engines=["searxng"], searxng_url=searx_server.url),
            fetch=FetchSettings(allow_hosts=["127.0.0.1"], deadline_s=5, extract_workers=1),
            prompt=PromptSettings(timezone="UTC"),
            server=ServerSettings.model_validate(server),
        )
        yield World(web, searx, llm, settings)


@dataclass(frozen=True)
class Frame:
    """One SSE message (or comment)."""

    event: str | None = None
    id: str | None = None
    data: str | None = None
    comment: str | None = None

    def parsed(self) -> Event:
        assert self.data is not None
        return parse_event(self.data)


def parse_frame(block: str) -> Frame:
    fields: dict[str, str] = {}
    for line in block.split("\n"):
        name, _, value = line.partition(":")
        fields[name or "comment"] = value.removeprefix(" ")
    return Frame(fields.get("event"), fields.get("id"), fields.get("data"), fields.get("comment"))


def parse_frames(text: str) -> list[Frame]:
    return [parse_frame(block) for block in text.split("\n\n") if block.strip()]


async def iter_frames(response: httpx.Response) -> AsyncIterator[Frame]:
    """Frames as they arrive on a streamed response."""
    buffer = ""
    async for text in response.aiter_text():
        buffer += text
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            yield parse_frame(block)


def events_of(frames: list[Frame]) -> list[Event]:
    return [frame.parsed() for frame in frames if frame.data is not None]


class AppServer:
    """The app under uvicorn on a free loopback port, in a thread of its own."""

    def __init__(self, app: Litestar) -> None:
        config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.socket]))

    def __enter__(self) -> AppServer:
        self._thread.start()
        while not self.server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the app did not start")
            threading.Event().wait(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=15)
        self.socket.close()
