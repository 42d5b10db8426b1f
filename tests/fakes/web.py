"""A fake web for page-fetch and end-to-end tests: real HTML, real latency, real misbehaviour.

Serve it with ``serve(fake_web_app())`` from ``tests.fakes.server``. Fixture pages live in
``tests/fakes/pages/<name>.html``: ``english`` (a news article), ``chinese`` (a Chinese news
article), ``docs`` (a documentation page); each has nav/footer boilerplate around its main text.

Routes (all GET):

===========================================  =================================================
``/pages/{name}``                             a fixture page, ``text/html; charset=utf-8``
``/slow/{name}?delay=S``                      the page after S seconds (default 0.5)
``/trickle?chunks=N&delay=S``                 headers now, then N HTML chunks S seconds apart
``/hang``                                     never answers
``/hang-body``                                headers and the first bytes, then never finishes
``/redirect/{n}?to=PATH``                     n chained 302s, then to PATH (``/pages/english``)
``/loop``                                     a 302 to itself, forever
``/redirect-to?url=URL&status=302``           one redirect to any URL (e.g. 127.0.0.1,
                                              169.254.169.254, ``[::1]``, ``file:///``)
``/huge?mb=N&length=1``                       N MiB of HTML, chunked (``length=1``: with
                                              Content-Length)
``/compressed/{name}?encoding=E``             a page as gzip, deflate, deflate-raw; or broken:
                                              corrupt-gzip, compress (an unasked-for encoding)
``/gzip-bomb?mb=N``                           ~N/1000 MiB on the wire, N MiB inflated (gzip)
``/charset/latin1-header-utf8-body``          header iso-8859-1, body UTF-8 (French, German)
``/charset/utf8-header-gbk-body``             header utf-8, body the Chinese page in GBK
``/charset/gbk-meta``                         no charset in the header; GBK with ``<meta charset>``
``/charset/gbk-http-equiv``                   the same with ``http-equiv`` (gb2312)
``/charset/cp1252``                           a correct windows-1252 page
``/image.png``, ``/document.pdf``             binary types (``?kb=N`` sets the size, default 4)
``/data.json``, ``/untyped``                  JSON; a body without Content-Type
``/notes.txt``, ``/readme.md``                text/plain, text/markdown
``/status/{code}``                            that status with a small HTML error page
``/headers``                                  the request headers, as text/plain lines
===========================================  =================================================

``app[REQUEST_LOG]`` lists the path and query of every request received; ``app[IN_FLIGHT]``
tracks how many ``/slow`` requests run at once (``current``, ``peak``).

``fake_proxy_app(upstreams)`` is a forward HTTP proxy (absolute-form requests, no CONNECT) that
sends ``Host: name`` requests to ``upstreams[name]`` and logs each target URL in
``app[PROXY_LOG]``.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler

PAGES_DIR = Path(__file__).parent / "pages"
PAGE_NAMES = tuple(sorted(path.stem for path in PAGES_DIR.glob("*.html")))
MIB = 1024 * 1024

LATIN1_UTF8_BODY = (
    "<!DOCTYPE html><html><head><title>Crème brûlée à la française</title></head><body>"
    "<h1>Crème brûlée à la française</h1>"
    "<p>Für die Crème brûlée braucht man Sahne, Eigelb, Zucker und eine Vanilleschote. "
    "La crème doit être très froide avant de caraméliser le sucre à la flamme.</p>"
    "</body></html>"
)
CP1252_BODY = (
    "<!DOCTYPE html><html><head><title>Café “Zoë”</title></head><body>"
    "<p>Smörgåsbord, jalapeño, naïve façade – ‘quoted’ € 5</p></body></html>"
)
PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
PDF_HEADER = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"


@dataclass
class InFlight:
    """Concurrent requests to ``/slow``: now and at most."""

    current: int = 0
    peak: int = 0


REQUEST_LOG = web.AppKey("request_log", list[str])
IN_FLIGHT = web.AppKey("in_flight", InFlight)
PROXY_LOG = web.AppKey("proxy_log", list[str])
_UPSTREAMS = web.AppKey("upstreams", dict[str, str])


def page_html(name: str) -> str:
    """The text of fixture page ``name``."""
    return (PAGES_DIR / f"{name}.html").read_text(encoding="utf-8")


def _html(text: str, *, charset: str | None = "utf-8", status: int = 200) -> web.Response:
    content_type = "text/html" + (f"; charset={charset}" if charset else "")
    body = text.encode(charset or "utf-8")
    return web.Response(body=body, status=status, headers={"Content-Type": content_type})


def _page_or_404(name: str) -> str:
    if name not in PAGE_NAMES:
        raise web.HTTPNotFound(text=f"no fixture page {name!r}")
    return page_html(name)


@web.middleware
async def _log_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    request.app[REQUEST_LOG].append(request.path_qs)
    return await handler(request)


async def _page(request: web.Request) -> web.Response:
    return _html(_page_or_404(request.match_info["name"]))


async def _slow(request: web.Request) -> web.Response:
    counter = request.app[IN_FLIGHT]
    counter.current += 1
    counter.peak = max(counter.peak, counter.current)
    try:
        await asyncio.sleep(float(request.query.get("delay", "0.5")))
        return _html(_page_or_404(request.match_info["name"]))
    finally:
        counter.current -= 1


async def _trickle(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8"})
    await response.prepare(request)
    delay = float(request.query.get("delay", "0.2"))
    for index in range(int(request.query.get("chunks", "10"))):
        await response.write(f"<p>Paragraph {index} of a page that arrives slowly.</p>\n".encode())
        await asyncio.sleep(delay)
    await response.write_eof()
    return response


async def _hang(request: web.Request) -> web.Response:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


async def _hang_body(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8"})
    await response.prepare(request)
    await response.write(b"<!DOCTYPE html><html><head><title>Never ends</title></head><body>")
    await asyncio.Event().wait()
    return response


async def _redirect_chain(request: web.Request) -> web.Response:
    hops = int(request.match_info["n"])
    target = request.query.get("to", "/pages/english")
    if hops <= 0:
        raise web.HTTPFound(target)
    query = f"?to={target}" if "to" in request.query else ""
    raise web.HTTPFound(f"/redirect/{hops - 1}{query}")


async def _loop(request: web.Request) -> web.Response:
    raise web.HTTPFound("/loop")


async def _redirect_to(request: web.Request) -> web.Response:
    status = int(request.query.get("status", "302"))
    return web.Response(status=status, headers={"Location": request.query["url"]})


async def _huge(request: web.Request) -> web.StreamResponse:
    size = int(float(request.query.get("mb", "20")) * MIB)
    response = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8"})
    if request.query.get("length") == "1":
        response.content_length = size
    await response.prepare(request)
    chunk = (b"<p>" + b"filler text " * 84 + b"</p>\n")[:16384].ljust(16384, b" ")
    sent = 0
    while sent < size:
        piece = chunk[: size - sent]
        await response.write(piece)
        sent += len(piece)
    await response.write_eof()
    return response


async def _compressed(request: web.Request) -> web.Response:
    body = _page_or_404(request.match_info["name"]).encode()
    encoding = request.query.get("encoding", "gzip")
    if encoding == "gzip":
        payload = gzip.compress(body)
    elif encoding == "deflate":
        payload = zlib.compress(body)
    elif encoding == "deflate-raw":
        compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        payload = compressor.compress(body) + compressor.flush()
    elif encoding == "corrupt-gzip":
        payload = gzip.compress(body)[:20] + bytes(range(256)) * 4
    elif encoding == "compress":
        payload = body  # labelled with an encoding nobody asked for
    else:
        raise web.HTTPBadRequest(text=f"unknown encoding {encoding!r}")
    label = {"deflate-raw": "deflate", "corrupt-gzip": "gzip"}.get(encoding, encoding)
    headers = {"Content-Type": "text/html; charset=utf-8", "Content-Encoding": label}
    return web.Response(body=payload, headers=headers)


@functools.lru_cache(maxsize=4)
def _bomb(megabytes: int) -> bytes:
    compressor = zlib.compressobj(9, wbits=16 + zlib.MAX_WBITS)
    block = b" " * MIB
    parts = [compressor.compress(b"<html><body>")]
    parts += [compressor.compress(block) for _ in range(megabytes)]
    return b"".join([*parts, compressor.flush()])


async def _gzip_bomb(request: web.Request) -> web.Response:
    payload = _bomb(int(request.query.get("mb", "100")))
    headers = {"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip"}
    return web.Response(body=payload, headers=headers)


def _gbk_page(declaration: str) -> bytes:
    html = page_html("chinese").replace('<meta charset="utf-8">', declaration)
    return html.encode("gbk")


async def _charset(request: web.Request) -> web.Response:
    case = request.match_info["case"]
    if case == "latin1-header-utf8-body":
        body, content_type = LATIN1_UTF8_BODY.encode(), "text/html; charset=iso-8859-1"
    elif case == "utf8-header-gbk-body":
        body, content_type = _gbk_page(""), "text/html; charset=utf-8"
    elif case == "gbk-meta":
        body, content_type = _gbk_page('<meta charset="gbk">'), "text/html"
    elif case == "gbk-http-equiv":
        declaration = '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
        body, content_type = _gbk_page(declaration), "text/html"
    elif case == "cp1252":
        body, content_type = CP1252_BODY.encode("cp1252"), "text/html; charset=windows-1252"
    else:
        raise web.HTTPNotFound(text=f"no charset case {case!r}")
    return web.Response(body=body, headers={"Content-Type": content_type})


def _binary(content_type: str, header: bytes) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        size = int(request.query.get("kb", "4")) * 1024
        body = (header + bytes(range(256)) * (size // 256 + 1))[:size]
        return web.Response(body=body, headers={"Content-Type": content_type})

    return handler


async def _json(request: web.Request) -> web.Response:
    return web.json_response({"title": "not a page", "items": [1, 2, 3]})


async def _untyped(request: web.Request) -> web.Response:
    response = web.Response(body=b"<html><body><p>No content type here.</p></body></html>")
    response.headers.popall("Content-Type", None)
    response.content_type = ""  # aiohttp would otherwise default to application/octet-stream
    return response


async def _text(request: web.Request) -> web.Response:
    text = "Plain notes\n\nThe quick brown fox jumps over the lazy dog.\n"
    return web.Response(text=text, content_type="text/plain", charset="utf-8")


async def _markdown(request: web.Request) -> web.Response:
    text = "# Read me\n\nA *markdown* page with a [link](https://example.org/).\n"
    return web.Response(text=text, content_type="text/markdown", charset="utf-8")


async def _status(request: web.Request) -> web.Response:
    code = int(request.match_info["code"])
    return _html(f"<html><body><h1>Error {code}</h1></body></html>", status=code)


async def _headers(request: web.Request) -> web.Response:
    lines = "".join(f"{name}: {value}\n" for name, value in request.headers.items())
    return web.Response(text=lines, content_type="text/plain")


def fake_web_app() -> web.Application:
    """The fake web; see the module docstring for its routes."""
    app = web.Application(middlewares=[_log_requests])
    app[REQUEST_LOG] = []
    app[IN_FLIGHT] = InFlight()
    app.router.add_get("/pages/{name}", _page)
    app.router.add_get("/slow/{name}", _slow)
    app.router.add_get("/trickle", _trickle)
    app.router.add_get("/hang", _hang)
    app.router.add_get("/hang-body", _hang_body)
    app.router.add_get(r"/redirect/{n:\d+}", _redirect_chain)
    app.router.add_get("/loop", _loop)
    app.router.add_get("/redirect-to", _redirect_to)
    app.router.add_get("/huge", _huge)
    app.router.add_get("/compressed/{name}", _compressed)
    app.router.add_get("/gzip-bomb", _gzip_bomb)
    app.router.add_get("/charset/{case}", _charset)
    app.router.add_get("/image.png", _binary("image/png", PNG_HEADER))
    app.router.add_get("/document.pdf", _binary("application/pdf", PDF_HEADER))
    app.router.add_get("/data.json", _json)
    app.router.add_get("/untyped", _untyped)
    app.router.add_get("/notes.txt", _text)
    app.router.add_get("/readme.md", _markdown)
    app.router.add_get(r"/status/{code:\d{3}}", _status)
    app.router.add_get("/headers", _headers)
    return app


async def _forward(request: web.Request) -> web.Response:
    target = request.url
    request.app[PROXY_LOG].append(str(target))
    upstream = request.app[_UPSTREAMS].get(target.host or "")
    if upstream is None:
        return web.Response(status=502, text=f"proxy: unknown host {target.host}")
    async with (
        aiohttp.ClientSession(auto_decompress=False) as session,
        session.get(upstream + target.path_qs, allow_redirects=False) as upstream_response,
    ):
        body = await upstream_response.read()
        headers = {
            name: value
            for name, value in upstream_response.headers.items()
            if name.lower() in ("content-type", "content-encoding", "location")
        }
        return web.Response(status=upstream_response.status, body=body, headers=headers)


def fake_proxy_app(upstreams: Mapping[str, str]) -> web.Application:
    """A forward HTTP proxy that maps host names to local base URLs (``http://127.0.0.1:N``)."""
    app = web.Application()
    app[PROXY_LOG] = []
    app[_UPSTREAMS] = dict(upstreams)
    app.router.add_route("*", "/{tail:.*}", _forward)
    return app
