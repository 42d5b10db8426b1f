"""What the widget's browser tests stand on: a relay that can cut connections, the host pages on
a second origin, the scripted model, and Chromium's launch options.

The widget, the host pages and the answer API live on three origins: the relay (which serves
``/widget.js`` and the API, forwarding every byte to the real ``searchqa serve``), the host page
server, and the server itself. Cutting the relay's connections is a real network drop for the
browser: its ``fetch`` body read fails mid-stream.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from tests.fakes.server import serve

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
"""As root, without the background-networking flags Chromium dials out at every start."""

STRICT_CSP = (
    "default-src 'self'; script-src {widget}; style-src 'self'; connect-src {widget}; "
    "require-trusted-types-for 'script'; trusted-types searchqa"
)
"""The policy embedders are told to use, with Trusted Types enforced."""


class Relay:
    """A TCP relay on a loopback port of its own that forwards to ``target`` (set it once the
    server is up) and can cut every open connection at once (``drop()``)."""

    def __init__(self) -> None:
        self._target = ("127.0.0.1", 0)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0
        self.drops = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def target(self) -> str:
        return f"http://{self._target[0]}:{self._target[1]}"

    @target.setter
    def target(self, url: str) -> None:
        """Where new connections go (a server started after the relay)."""
        parts = urlsplit(url)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 80)

    def __enter__(self) -> Relay:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        self._cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            self._writers -= {writer, up_writer}
            for end in (writer, up_writer):
                end.transport.abort()

    def _cut(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()  # a reset, not a clean close
        self._writers.clear()

    def drop(self) -> None:
        """Resets every connection open through the relay now."""
        self._loop.call_soon_threadsafe(self._cut)
        self.drops += 1


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with suppress(ConnectionError, OSError):
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    with suppress(ConnectionError, OSError, RuntimeError):
        sink.write_eof()


@dataclass
class Script:
    """The model's replies by question: the first entry whose question is in the prompt."""

    replies: dict[str, tuple[str, str]] = field(default_factory=dict)
    default: tuple[str, str] = ("Thinking about it.\n", "No scripted answer [citation:1].")

    def __call__(self, prompt: str) -> tuple[str, str]:
        # The question is in the prompt's last lines; earlier turns of a conversation come first.
        found = [(prompt.rfind(question), reply) for question, reply in self.replies.items()]
        found = [(at, reply) for at, reply in found if at >= 0]
        return max(found, key=lambda pair: pair[0])[1] if found else self.default


def host_page(*, widget: str, attributes: dict[str, str], lang: str = "en") -> str:
    """A page on the host origin with one box whose attributes are ``attributes``."""
    attrs = "".join(f' {name}="{escape(value)}"' for name, value in attributes.items())
    return f"""<!DOCTYPE html>
<html lang="{escape(lang)}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Host page</title>
<script src="{escape(widget)}/widget.js" defer></script>
</head>
<body>
<h1>A host page</h1>
<p><a href="#top" id="before">A link before the box</a></p>
<searchqa-answer{attrs}></searchqa-answer>
<p id="mount-here"></p>
</body>
</html>
"""


HostPages = Callable[..., str]
BOX_ATTRIBUTES = ("endpoint", "api-key", "lang", "placeholder", "theme", "shortcut")


def host_app(widget: str) -> web.Application:
    """``/strict`` (the embedding CSP, Trusted Types enforced) and ``/plain`` (no CSP): a page
    whose box takes its attributes from the query string (``page_lang`` sets ``<html lang>``)."""

    async def page(request: web.Request) -> web.Response:
        attributes = {name: request.query[name] for name in BOX_ATTRIBUTES if name in request.query}
        html = host_page(
            widget=widget, attributes=attributes, lang=request.query.get("page_lang", "en")
        )
        headers = {}
        if request.match_info["kind"] == "strict":
            headers["Content-Security-Policy"] = STRICT_CSP.format(widget=widget)
        return web.Response(text=html, content_type="text/html", headers=headers)

    async def no_icon(request: web.Request) -> web.Response:
        return web.Response(status=204)  # a 404 would be a console error

    app = web.Application()
    app.router.add_get("/{kind:strict|plain}", page)
    app.router.add_get("/favicon.ico", no_icon)
    return app


@contextmanager
def attacker_server() -> Iterator[tuple[str, list[str]]]:
    """An "outside host" that logs every request: answers try to reach it; nothing may."""
    hits: list[str] = []

    async def record(request: web.Request) -> web.Response:
        hits.append(request.path_qs)
        return web.Response(text="pwned", content_type="text/plain")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    with serve(app) as server:
        yield server.url, hits
