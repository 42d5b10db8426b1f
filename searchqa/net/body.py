"""Read a response body within byte caps and decode it to text.

The body is read raw and decompressed here, never more than the cap allows at a time, so a gzip
bomb costs at most ``max_decompressed_bytes`` of memory. Only the encodings the client asks for
(gzip, deflate, identity) are accepted.

Charset rule, in order:

1. A byte-order mark wins.
2. A declared UTF-16/32 charset (HTTP header, else ``<meta charset>`` / ``http-equiv`` in the first
   bytes of an HTML page) is used as declared.
3. A body that is valid UTF-8 is UTF-8, whatever is declared: mislabelled UTF-8 (typically served
   as iso-8859-1) is common, while real text in a legacy charset almost never happens to be valid
   UTF-8 once it has any non-ASCII byte.
4. Otherwise the declared charset, if it decodes the body cleanly. Labels are read as browsers
   read them: iso-8859-1 and ascii mean windows-1252, gb2312 and gbk mean gb18030.
5. Otherwise charset_normalizer's best guess, else UTF-8 with replacement characters.
"""

from __future__ import annotations

import codecs
import re
import zlib

import charset_normalizer
import httpx

META_SCAN_BYTES = 4096
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([a-zA-Z0-9_.:-]+)""")
_BROWSER_LABELS = {
    "iso-8859-1": "cp1252",
    "latin-1": "cp1252",
    "latin1": "cp1252",
    "iso8859-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
}
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class BodyTooLargeError(Exception):
    """The body is larger than a cap allows."""


class BodyDecodeError(Exception):
    """The body's content encoding is unknown or corrupt."""


class Inflater:
    """Bounded decompression of one Content-Encoding (gzip, deflate or identity)."""

    def __init__(self, content_encoding: str) -> None:
        encoding = content_encoding.strip().lower()
        if encoding in ("", "identity"):
            self._wbits: int | None = None
        elif encoding in ("gzip", "x-gzip"):
            self._wbits = 16 + zlib.MAX_WBITS
        elif encoding == "deflate":
            self._wbits = zlib.MAX_WBITS
        else:
            raise BodyDecodeError(f"unsupported content encoding {content_encoding!r}")
        self._head: bytes | None = b""  # input seen before any output, kept to retry raw deflate
        self._decompressor = zlib.decompressobj(self._wbits) if self._wbits else None

    def feed(self, data: bytes, room: int) -> bytes:
        """Decompress ``data``; raise BodyTooLargeError if that yields more than ``room`` bytes."""
        if self._decompressor is None:
            if len(data) > room:
                raise BodyTooLargeError("body exceeds the size cap")
            return data
        started = self._head is None
        try:
            output = self._inflate(data, room)
        except zlib.error as exc:
            if started or self._wbits != zlib.MAX_WBITS:
                raise BodyDecodeError(f"corrupt compressed body: {exc}") from exc
            # "deflate" is often sent raw, without the zlib header.
            self._wbits = -zlib.MAX_WBITS
            self._decompressor = zlib.decompressobj(self._wbits)
            data, self._head = (self._head or b"") + data, b""
            output = self._inflate(data, room)
        if not started:
            self._head = None if output else (self._head or b"") + data
        return output

    def _inflate(self, data: bytes, room: int) -> bytes:
        assert self._decompressor is not None
        assert self._wbits is not None
        output = bytearray()
        while data:
            if self._decompressor.eof:
                if not (self._wbits > zlib.MAX_WBITS and data.startswith(b"\x1f\x8b")):
                    break  # trailing bytes after the stream: ignored, as browsers do
                self._decompressor = zlib.decompressobj(self._wbits)  # another gzip member
            # max_length caps what one call may produce: room + 1 bytes prove the cap is passed.
            output += self._decompressor.decompress(data, room - len(output) + 1)
            if len(output) > room:
                raise BodyTooLargeError("decompressed body exceeds the size cap")
            data = self._decompressor.unused_data if self._decompressor.eof else b""
        return bytes(output)


async def read_body(
    response: httpx.Response,
    *,
    max_bytes: int,
    max_decompressed_bytes: int,
    declared_charset: str | None,
    html: bool,
) -> str:
    """Stream ``response``'s body within the caps and return it as text."""
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise BodyTooLargeError(f"Content-Length {length} exceeds {max_bytes} bytes")
    inflater = Inflater(response.headers.get("content-encoding", ""))
    wire_bytes = 0
    body = bytearray()
    async for chunk in response.aiter_raw():
        wire_bytes += len(chunk)
        if wire_bytes > max_bytes:
            raise BodyTooLargeError(f"body exceeds {max_bytes} bytes on the wire")
        try:
            body += inflater.feed(chunk, max_decompressed_bytes - len(body))
        except BodyTooLargeError as exc:
            raise BodyTooLargeError(f"{exc} ({max_decompressed_bytes} bytes)") from exc
    return decode_text(bytes(body), declared_charset, html=html)


def decode_text(body: bytes, declared_charset: str | None, *, html: bool) -> str:
    """Decode a page body following the module's charset rule."""
    for bom, bom_codec in _BOMS:
        if body.startswith(bom):
            return body.decode(bom_codec, errors="replace")
    declared = _codec_for(declared_charset)
    if declared is None and html:
        head = body[:META_SCAN_BYTES]
        match = _XML_ENCODING.search(head) or _META_CHARSET.search(head)
        declared = _codec_for(match.group(1).decode("ascii")) if match else None
    if declared is not None and declared.startswith(("utf-16", "utf-32")):
        return body.decode(declared, errors="replace")
    for candidate in ("utf-8", declared):
        if candidate is not None:
            try:
                return body.decode(candidate)
            except UnicodeDecodeError:
                pass
    best = charset_normalizer.from_bytes(body).best()
    if best is not None:
        return str(best)
    return body.decode(declared or "utf-8", errors="replace")


def _codec_for(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().lower()
    label = _BROWSER_LABELS.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None
