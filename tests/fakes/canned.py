"""A real local server that answers every request with one canned ``httpx.Response``.

For protocol edge cases of a client that no well-behaved server stages (malformed streams,
odd error bodies): build the reply as an ``httpx.Response`` (``json=``, ``text=``, or an async
iterator of byte pieces as ``content=``, written one piece at a time) and serve it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from aiohttp import web

from tests.fakes.server import serve

_FRAMING = {"content-length", "transfer-encoding", "content-encoding"}


def canned_app(canned: httpx.Response) -> web.Application:
    pieces: list[bytes] = []
    streamed = False

    async def reply(request: web.Request) -> web.StreamResponse:
        nonlocal streamed
        await request.read()
        headers = {k: v for k, v in canned.headers.items() if k.lower() not in _FRAMING}
        response = web.StreamResponse(status=canned.status_code, headers=headers)
        await response.prepare(request)
        if not streamed:  # the body can be read once; every request gets the same pieces
            streamed = True
            try:
                pieces.append(canned.content)  # json=, text=, content=bytes: read already
            except httpx.ResponseNotRead:
                pieces.extend([piece async for piece in canned.aiter_raw()])
        for piece in pieces:
            await response.write(piece)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", reply)
    return app


@contextmanager
def serve_canned(canned: httpx.Response) -> Iterator[str]:
    """The base URL (``.../v1``) of a server answering ``canned`` to anything."""
    with serve(canned_app(canned)) as server:
        yield server.url + "/v1"
