"""Browser origins: CORS for the web widget, and the origin check of publishable keys.

An origin pattern is ``scheme://host[:port]``, where ``*`` stands for any run of host or port
characters (``https://*.example.com``, ``http://localhost:*``); ``*`` alone admits every origin.

CORS (Litestar's ``CORSConfig``) answers preflight ``OPTIONS`` requests and echoes
``Access-Control-Allow-Origin`` for allowed origins only; a refused preflight is a 400 without
CORS headers, so the browser blocks the call. Requests may send ``Authorization``, ``X-API-Key``,
``Content-Type`` and ``Last-Event-ID``; scripts may read ``RateLimit-*`` and ``Retry-After``.
No cookies are involved, so credentials are not allowed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal
from urllib.parse import urlsplit

from litestar.config.cors import CORSConfig
from litestar.datastructures import Headers
from litestar.types import Method

ALLOWED_METHODS: list[Method | Literal["*"]] = ["GET", "POST", "DELETE", "OPTIONS"]
ALLOWED_HEADERS = ["Authorization", "X-API-Key", "Content-Type", "Last-Event-ID"]
EXPOSED_HEADERS = [
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "Retry-After",
    "X-Request-ID",
]
PREFLIGHT_MAX_AGE_S = 600
_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_origin(value: str) -> str:
    return value.strip().rstrip("/").lower()


def origins_regex(patterns: Sequence[str]) -> str:
    """One regular expression matching exactly the origins ``patterns`` admit."""
    parts = [
        re.escape(normalize_origin(pattern)).replace(r"\*", "[a-z0-9.-]*") for pattern in patterns
    ]
    return "(?i:" + "|".join(parts) + ")" if parts else "(?!)"


def origin_allowed(origin: str | None, patterns: Sequence[str]) -> bool:
    if not origin or origin == "null":
        return False
    if "*" in patterns:
        return True
    return re.fullmatch(origins_regex(patterns), normalize_origin(origin)) is not None


def request_origin(headers: Headers) -> str | None:
    """The page a browser request comes from: ``Origin``, else the origin of ``Referer``."""
    origin = headers.get("origin")
    if origin and origin != "null":
        return normalize_origin(origin)
    referer = headers.get("referer")
    if not referer:
        return None
    try:
        parts = urlsplit(referer)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    suffix = f":{port}" if port and port != _DEFAULT_PORTS[parts.scheme] else ""
    return f"{parts.scheme}://{host}{suffix}".lower()


def cors_config(origins: Sequence[str]) -> CORSConfig | None:
    """CORS for ``origins``; None (no CORS headers at all) when there are none."""
    if not origins:
        return None
    allow_all = "*" in origins
    return CORSConfig(
        allow_origins=["*"] if allow_all else [],
        allow_origin_regex=None if allow_all else origins_regex(origins),
        allow_methods=ALLOWED_METHODS,
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        max_age=PREFLIGHT_MAX_AGE_S,
    )
