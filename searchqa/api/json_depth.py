"""Refuse JSON bodies that nest too deep, while they stream in, before anything decodes them.

A body of a thousand ``[`` makes a recursive decoder raise ``RecursionError`` (an HTTP 500).
``JsonDepthLimit`` watches the bytes of every JSON request body as the route reads them and
raises ``InvalidRequestError`` (400, ``json_too_deep``) at the first bracket past
``MAX_JSON_DEPTH``, so the route's own error handlers answer (problem details, or OpenAI's
error shape on the OpenAI-compatible routes) and the rest of the body is never read.
"""

from __future__ import annotations

import re

from litestar.enums import ScopeType
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send

from searchqa.errors import InvalidRequestError

MAX_JSON_DEPTH = 64
"""Far beyond any request this service takes (a chat message's content parts sit at depth 5)."""
_STRUCTURE = re.compile(rb'[\\"\[\]{}]')


class DepthScanner:
    """Tracks how deep a JSON text nests as it arrives in pieces (strings and escapes aware)."""

    def __init__(self, max_depth: int = MAX_JSON_DEPTH) -> None:
        self.max_depth = max_depth
        self._depth = 0
        self._in_string = False
        self._escaped = False  # the previous piece ended with a backslash inside a string

    def feed(self, data: bytes) -> None:
        """Scan the next piece; raise InvalidRequestError once the text nests too deep."""
        skip = 0 if self._escaped else -1
        self._escaped = False
        for match in _STRUCTURE.finditer(data):
            at, char = match.start(), match.group()
            if at == skip:  # the character after a backslash: escaped, whatever it is
                continue
            if self._in_string:
                if char == b"\\":
                    skip = at + 1
                    self._escaped = skip == len(data)
                elif char == b'"':
                    self._in_string = False
            elif char == b'"':
                self._in_string = True
            elif char in (b"[", b"{"):
                self._depth += 1
                if self._depth > self.max_depth:
                    raise InvalidRequestError(
                        f"the JSON body nests deeper than {self.max_depth} levels",
                        code="json_too_deep",
                    )
            elif char in (b"]", b"}"):
                self._depth -= 1


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return False


class JsonDepthLimit:
    """ASGI middleware: every JSON request body passes a ``DepthScanner`` as it is read."""

    def __init__(self, app: ASGIApp, max_depth: int = MAX_JSON_DEPTH) -> None:
        self._app = app
        self._max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or not _is_json(scope):
            await self._app(scope, receive, send)
            return
        scanner = DepthScanner(self._max_depth)

        async def scanned() -> ReceiveMessage:
            message = await receive()
            if message["type"] == "http.request":
                scanner.feed(message.get("body", b""))
            return message

        await self._app(scope, scanned, send)


def limit_json_depth(max_depth: int = MAX_JSON_DEPTH) -> DefineMiddleware:
    """The middleware for Litestar's ``middleware`` list."""
    return DefineMiddleware(JsonDepthLimit, max_depth=max_depth)
