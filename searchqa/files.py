"""Local files as documents: for ``ask --file`` and ``extract FILE``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from searchqa.errors import InvalidRequestError
from searchqa.net.body import decode_text
from searchqa.steps.extract import PageExtractor
from searchqa.uploads import classify_upload, read_upload

MAX_FILE_BYTES = 10_000_000
_HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
_MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})


@dataclass(frozen=True, slots=True)
class LocalDocument:
    name: str
    url: str
    text: str
    content_type: str


def _read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InvalidRequestError(
                f"{path} has {size} bytes; the limit is {MAX_FILE_BYTES}",
                code="file_too_large",
                http_status=413,
            )
        return path.read_bytes()
    except OSError as exc:
        raise InvalidRequestError(f"cannot read {path}: {exc.strerror}", code="bad_file") from exc


async def read_local_file(path: Path, *, extractor: PageExtractor) -> LocalDocument:
    """The text a question about ``path`` is answered from, as for an upload.

    Local files carry no media type: unknown suffixes count as plain text.
    """
    raw, url = await asyncio.to_thread(lambda: (_read_bytes(path), path.resolve().as_uri()))
    text = await read_upload(path.name, "text/plain", raw, extractor=extractor, url=url)
    return LocalDocument(name=path.name, url=url, text=text, content_type="text/plain")


def read_local_document(path: Path) -> LocalDocument:
    """``path`` decoded as it is (HTML stays HTML), for extraction."""
    raw = _read_bytes(path)
    classify_upload(path.name, "text/plain", raw[:8192])  # refuses binary files
    suffix = path.suffix.lower()
    content_type = (
        "text/html"
        if suffix in _HTML_SUFFIXES
        else "text/markdown"
        if suffix in _MARKDOWN_SUFFIXES
        else "text/plain"
    )
    text = decode_text(raw, None, html=content_type == "text/html")
    return LocalDocument(
        name=path.name, url=path.resolve().as_uri(), text=text, content_type=content_type
    )
