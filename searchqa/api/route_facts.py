"""What each route declares about itself, in Litestar's ``opt``, and the readers of it.

Every handler says who may call it (``access``), whether it starts a generation (``generates``:
such routes spend the rate limit), what its event stream carries (``stream``: the OpenAPI
component of each SSE message) and whether its access log lines are ``quiet`` (probes,
scrapes). The access guard, the rate limiter, the OpenAPI document and the access log read
these facts from the handler, so adding a route means declaring it in one place.
"""

from __future__ import annotations

from typing import Any, Literal

from litestar.handlers.base import BaseRouteHandler

Access = Literal["open", "publishable", "secret", "operator"]
"""``open``: anyone; ``publishable``: browser keys too (start and read answers); ``secret``:
server keys only; ``operator``: open unless ``SEARCHQA_AUTH__PROTECT_METRICS`` makes it secret."""
StreamSchema = Literal["Event", "ChatCompletionChunk"]

ACCESS, GENERATES, STREAM, QUIET = "access", "generates", "stream", "quiet"


def route_facts(
    *,
    access: Access = "secret",
    generates: bool = False,
    stream: StreamSchema | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """The ``opt`` of a route handler (or router) declaring these facts."""
    return {ACCESS: access, GENERATES: generates, STREAM: stream, QUIET: quiet}


def access_of(handler: BaseRouteHandler) -> Access:
    """Who may call ``handler``; routes that declare nothing need a secret key."""
    declared = handler.opt.get(ACCESS, "secret")
    if declared not in ("open", "publishable", "secret", "operator"):
        raise ValueError(f"route {handler} declares unknown access {declared!r}")
    access: Access = declared
    return access


def generates(handler: BaseRouteHandler) -> bool:
    """Whether ``handler`` starts a generation (and so spends the rate limit)."""
    return bool(handler.opt.get(GENERATES, False))


def stream_of(handler: BaseRouteHandler) -> StreamSchema | None:
    """What each message of ``handler``'s event stream carries; None: no stream."""
    stream: StreamSchema | None = handler.opt.get(STREAM)
    return stream


def is_quiet(handler: BaseRouteHandler | None) -> bool:
    """Whether ``handler``'s access log lines go out at DEBUG."""
    return handler is not None and bool(handler.opt.get(QUIET, False))
