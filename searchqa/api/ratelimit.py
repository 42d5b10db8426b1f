"""Rate limits per API key or client address, counted atomically across workers.

Only routes that start a generation are limited (the access guard in ``auth`` decides which and
who is asking). Each bucket is a fixed window in the shared state's limiter (Redis when
configured), so every worker counts against the same number; while Redis is down the limiter
allows, unless ``SEARCHQA_REDIS__FAIL_CLOSED`` makes it deny.

Every response of a limited route carries the IETF draft headers (draft-ietf-httpapi-ratelimit-
headers, the three-field form): ``RateLimit-Limit`` (requests per window), ``RateLimit-Remaining``
and ``RateLimit-Reset`` (seconds until the window ends); a refused request is a 429 with
``Retry-After`` (seconds) as well.

The client address is the connection's peer, unless the peer is a trusted proxy: then it is the
right-most address of ``X-Forwarded-For`` that is not a trusted proxy (the left-most when all
are), since every address left of the first untrusted one may have been written by the client.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import Headers, MutableScopeHeaders
from litestar.exceptions import TooManyRequestsException
from litestar.types import Message, Scope

from searchqa.errors import InvalidRequestError
from searchqa.state.keys import rate_key
from searchqa.state.protocols import RateDecision, RateLimiter

RATE_SCOPE = "generate"
"""One budget for every route that starts a generation (answers, files, chat completions)."""
HEADERS_STATE_KEY = "searchqa_access_headers"
"""Where the access guard leaves headers for the response, in the connection's scope state."""


class TrustedProxies:
    """The proxies (IPs or CIDRs) whose ``X-Forwarded-For`` is believed."""

    def __init__(self, entries: Iterable[str]) -> None:
        networks = []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError as exc:
                raise InvalidRequestError(
                    f"SEARCHQA_AUTH__TRUSTED_PROXIES: {entry!r} is not an IP address or CIDR",
                    code="invalid_settings",
                ) from exc
        self._networks = tuple(networks)

    def __contains__(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self._networks)

    def client_address(self, peer: str, forwarded_for: Sequence[str]) -> str:
        """Who is really asking, given the connection's peer and the X-Forwarded-For chain."""
        if peer not in self:
            return peer
        address = peer
        for hop in reversed(forwarded_for):
            address = hop
            if hop not in self:
                break
        return address


def forwarded_chain(headers: Headers) -> list[str]:
    """Every address of every ``X-Forwarded-For`` header, left to right."""
    values = headers.getall("x-forwarded-for", [])
    return [hop.strip() for value in values for hop in value.split(",") if hop.strip()]


def client_address(connection: ASGIConnection[Any, Any, Any, Any], proxies: TrustedProxies) -> str:
    peer = connection.client.host if connection.client else "unknown"
    return proxies.client_address(peer, forwarded_chain(connection.headers))


@dataclass(frozen=True)
class RateBucket:
    """Whose budget a request spends, and its size per window (0 = unlimited)."""

    identity: str
    limit: int


def rate_headers(decision: RateDecision) -> dict[str, str]:
    headers = {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(math.ceil(decision.reset_s)),
    }
    if not decision.allowed:
        headers["Retry-After"] = str(max(1, math.ceil(decision.reset_s)))
    return headers


def leave_headers(scope: Scope, headers: dict[str, str]) -> None:
    """Have ``add_access_headers`` put ``headers`` on this connection's response."""
    scope.setdefault("state", {}).setdefault(HEADERS_STATE_KEY, {}).update(headers)


async def add_access_headers(message: Message, scope: Scope) -> None:
    """Before-send hook: the headers the access guard left, on whatever response goes out.

    Error handlers of some routes (the OpenAI-shaped ones) build their own headers; this keeps
    ``RateLimit-*``, ``Retry-After`` and ``WWW-Authenticate`` on those too.
    """
    if message["type"] != "http.response.start":
        return
    headers: dict[str, str] | None = scope.get("state", {}).get(HEADERS_STATE_KEY)
    if headers:
        mutable = MutableScopeHeaders.from_message(message)
        for name, value in headers.items():
            mutable[name] = value


async def spend(
    connection: ASGIConnection[Any, Any, Any, Any],
    limiter: RateLimiter,
    bucket: RateBucket,
    *,
    window_s: float,
) -> RateDecision | None:
    """Count this request against ``bucket``; 429 problem details once it is spent."""
    if bucket.limit <= 0:
        return None
    key = rate_key(bucket.identity, scope=RATE_SCOPE)
    decision = await limiter.hit(key, limit=bucket.limit, window_s=window_s)
    headers = rate_headers(decision)
    leave_headers(connection.scope, headers)
    if not decision.allowed:
        raise TooManyRequestsException(
            detail=f"rate limit of {bucket.limit} requests per {window_s:g} s reached; "
            f"retry in {headers['Retry-After']} s",
            headers=headers,
        )
    return decision
