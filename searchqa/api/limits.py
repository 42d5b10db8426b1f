"""Checks of the request target before a route reads it: its length and its encoding.

The URL cap leaves room for the longest question in ``GET /v1/answer?q=`` (2,000 characters of
up to 4 UTF-8 bytes, 12 once percent-encoded) and answers ``414`` past it. It sits below what
the ASGI server reads of a request head (uvicorn: about 64 KiB, see ``serve``), so a long URL
gets a proper error from the application rather than the server's plain-text ``400``.

A query string must percent-decode to UTF-8: Litestar would otherwise read ``%ff`` as U+FFFD
and answer a question nobody asked.

Both run inside each route's middleware stack, so the route's exception handlers shape the
error: problem details, or OpenAI's error body on the OpenAI-compatible routes.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from searchqa.errors import InvalidRequestError

MAX_URL_BYTES = 32 * 1024
URI_TOO_LONG = 414


class UriTooLongError(HTTPException):
    status_code = URI_TOO_LONG


def target_length(scope: Scope) -> int:
    """Bytes of the path and query string as the client sent them."""
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
    path = raw_path.partition(b"?")[0]  # some test clients leave the query in raw_path
    query: bytes = scope.get("query_string", b"")
    return len(path) + (1 + len(query) if query else 0)


def query_is_utf8(query: bytes) -> bool:
    try:
        unquote_to_bytes(query.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class RequestTargetCheck(ASGIMiddleware):
    """Refuses URLs over ``MAX_URL_BYTES`` (414) and query strings that are not UTF-8 (400)."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if target_length(scope) > MAX_URL_BYTES:
            raise UriTooLongError(
                detail=f"the URL is longer than {MAX_URL_BYTES} bytes; send the question in a POST"
            )
        if not query_is_utf8(scope.get("query_string", b"")):
            raise InvalidRequestError(
                "the query string is not percent-encoded UTF-8", code="bad_encoding"
            )
        await next_app(scope, receive, send)
