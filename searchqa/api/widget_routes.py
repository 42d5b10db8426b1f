"""The web widget's routes: ``GET /widget.js`` (the bundle) and ``GET /``, a demo page using it.

Both are open, as is the demo page's ``/favicon.svg``. The bundle is one self-contained file
built from ``widget/`` and shipped in the wheel (``widget_assets/widget.js``); it is served with
a content-hash ``ETag`` (answering ``If-None-Match`` with 304), gzip-compressed for clients that
accept it, cacheable for a few minutes and loadable from any origin. The demo page runs under
the strict policy the README recommends to embedders, so it shows the widget working without
inline scripts or styles; its own few style rules are allowed by hash. ``/?key=pk_...`` puts a
publishable key on its box.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
from dataclasses import dataclass
from functools import cache
from html import escape
from pathlib import Path
from typing import Any

from litestar import Request, Response, get

from searchqa.api.route_facts import route_facts

BUNDLE_PATH = Path(__file__).parent / "widget_assets" / "widget.js"
SCRIPT_MEDIA_TYPE = "text/javascript"  # Litestar adds "; charset=utf-8"
BUNDLE_MAX_AGE_S = 600
DEMO_STYLE = (
    "body{margin:0;font:16px/1.55 system-ui,sans-serif;background:#f6f7f9;color:#1d232b}"
    "main{max-width:46rem;margin:0 auto;padding:1.5rem 1rem 3rem}"
    "h1{margin:0 0 .25rem}h2{font-size:1.1rem;margin-top:2rem}"
    "pre{overflow-x:auto;background:#fff;border:1px solid #d5dae1;border-radius:8px;padding:.75rem}"
    "@media (prefers-color-scheme:dark){body{background:#0f1217;color:#e5e9f0}"
    "pre{background:#161a21;border-color:#353c48}a{color:#8fb0ff}}"
)


def _style_hash(style: str) -> str:
    digest = hashlib.sha256(style.encode()).digest()
    return "'sha256-" + base64.b64encode(digest).decode() + "'"


DEMO_CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        f"style-src 'self' {_style_hash(DEMO_STYLE)}",
        "connect-src 'self'",
        "img-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types searchqa",
    ]
)
"""The demo page's policy: the embedding policy of the README, plus Trusted Types."""


@dataclass(frozen=True)
class Representation:
    body: bytes
    etag: str


@dataclass(frozen=True)
class WidgetBundle:
    """The bundle as stored and gzip-compressed, each with its own content-hash ETag."""

    plain: Representation
    gzipped: Representation

    @classmethod
    def read(cls, path: Path = BUNDLE_PATH) -> WidgetBundle:
        body = path.read_bytes()
        tag = hashlib.sha256(body).hexdigest()[:32]
        # mtime=0: the same bundle always compresses to the same bytes
        compressed = gzip.compress(body, compresslevel=9, mtime=0)
        return cls(Representation(body, f'"{tag}"'), Representation(compressed, f'"{tag}-gzip"'))

    def choose(self, accept_encoding: str) -> tuple[Representation, bool]:
        """The representation for a client sending ``accept_encoding``; True when gzipped."""
        codings = {part.split(";")[0].strip().lower(): part for part in accept_encoding.split(",")}
        gzip_ok = "gzip" in codings and not codings["gzip"].replace(" ", "").endswith("q=0")
        return (self.gzipped, True) if gzip_ok else (self.plain, False)


@cache
def widget_bundle() -> WidgetBundle:
    """The shipped bundle, read once per process."""
    return WidgetBundle.read()


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak comparison, or ``*``)."""
    if not if_none_match:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


@get("/widget.js", include_in_schema=False, opt=route_facts(access="open", quiet=True))
async def widget_script(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The widget bundle."""
    chosen, gzipped = widget_bundle().choose(request.headers.get("accept-encoding", ""))
    headers = {
        "ETag": chosen.etag,
        "Cache-Control": f"public, max-age={BUNDLE_MAX_AGE_S}",
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "Access-Control-Allow-Origin": "*",
    }
    if etag_matches(request.headers.get("if-none-match"), chosen.etag):
        return Response(b"", status_code=304, headers=headers)
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    return Response(chosen.body, media_type=SCRIPT_MEDIA_TYPE, headers=headers)


def demo_page(*, origin: str, api_key: str | None) -> str:
    """The demo page's HTML; ``api_key`` (escaped) goes on its box."""
    key = f' api-key="{escape(api_key)}"' if api_key else ""
    site = escape(origin)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>searchqa</title>
<link rel="icon" href="/favicon.svg">
<style>{DEMO_STYLE}</style>
<script src="/widget.js" defer></script>
</head>
<body>
<main>
<h1>searchqa</h1>
<p>Ask a question: the answer streams from this server, citing the web pages it read.</p>
<searchqa-answer{key}></searchqa-answer>
<h2>Put this box on your site</h2>
<pre><code>&lt;script src="{site}/widget.js" defer&gt;&lt;/script&gt;
&lt;searchqa-answer api-key="pk_..."&gt;&lt;/searchqa-answer&gt;</code></pre>
<p>Options, theming and the Content-Security-Policy to use are in the README.
The API reference is at <a href="/schema">/schema</a>.</p>
</main>
</body>
</html>
"""


@get("/", include_in_schema=False, opt=route_facts(access="open", quiet=True))
async def widget_demo(request: Request[Any, Any, Any]) -> Response[str]:
    """A page with the widget, answering from this server."""
    origin = str(request.base_url).rstrip("/")
    html = demo_page(origin=origin, api_key=request.query_params.get("key"))
    headers = {
        "Content-Security-Policy": DEMO_CSP,
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }
    return Response(html, media_type="text/html", headers=headers)


FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="7" fill="#2f5bd3"/>'
    '<text x="16" y="23" font-family="sans-serif" font-size="19" font-weight="700" '
    'fill="#fff" text-anchor="middle">?</text></svg>'
)


@get("/favicon.svg", include_in_schema=False, opt=route_facts(access="open", quiet=True))
async def favicon() -> Response[str]:
    """The demo page's icon (so browsers do not log a missing /favicon.ico)."""
    headers = {"Cache-Control": "public, max-age=86400"}
    return Response(FAVICON, media_type="image/svg+xml", headers=headers)


WIDGET_ROUTES = [widget_script, widget_demo, favicon]
