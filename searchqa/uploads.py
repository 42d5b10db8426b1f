"""Files as text (uploads and local files): plain text, Markdown, HTML (main text), PDF (pypdf)."""

from __future__ import annotations

import asyncio
import io
import logging
from pathlib import PurePosixPath
from typing import Literal

from searchqa.documents import FetchedPage
from searchqa.errors import InvalidRequestError
from searchqa.net.body import decode_text
from searchqa.steps.extract import PageExtractor

FileKind = Literal["text", "markdown", "html", "pdf"]
SUPPORTED = "plain text, Markdown, HTML or PDF"
_BY_MEDIA_TYPE: dict[str, FileKind] = {
    "text/plain": "text",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
}
_BY_SUFFIX: dict[str, FileKind] = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pdf": "pdf",
}
_UNTYPED = {"", "application/octet-stream", "binary/octet-stream"}
log = logging.getLogger(__name__)


def _unsupported(message: str) -> InvalidRequestError:
    return InvalidRequestError(message, code="unsupported_type", http_status=415)


def classify_upload(file_name: str, content_type: str | None, head: bytes) -> FileKind:
    """The kind of an upload: by its bytes for PDF, else its media type, else its suffix."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    media = (content_type or "").split(";", 1)[0].strip().lower()
    suffix = PurePosixPath(file_name).suffix.lower()
    kind = _BY_MEDIA_TYPE.get(media)
    if media in _UNTYPED or media == "text/plain":
        # Browsers and form libraries label unknown files this way: the name knows better.
        kind = _BY_SUFFIX.get(suffix, kind)
    if kind is None:
        raise _unsupported(f"{file_name} ({media or 'untyped'}) is not {SUPPORTED}")
    if kind == "pdf":
        raise _unsupported(f"{file_name} is not a PDF file")
    if b"\x00" in head:
        raise _unsupported(f"{file_name} is not a text file")
    return kind


def _pdf_text(raw: bytes, file_name: str) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InvalidRequestError(
                f"{file_name} is encrypted", code="unreadable_file", http_status=422
            )
        return "\n\n".join(page.extract_text() or "" for page in reader.pages).strip()
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        log.info("unreadable PDF %s: %s", file_name, exc)
        raise InvalidRequestError(
            f"{file_name} is not a readable PDF", code="unreadable_file", http_status=422
        ) from exc


async def read_upload(
    file_name: str, content_type: str | None, raw: bytes, *, extractor: PageExtractor, url: str
) -> str:
    """The text a question about this file is answered from."""
    kind = classify_upload(file_name, content_type, raw[:8192])
    if kind == "pdf":
        return await asyncio.to_thread(_pdf_text, raw, file_name)
    text = decode_text(raw, None, html=kind == "html")
    if kind != "html":
        return text
    page = await extractor.extract(
        FetchedPage(url=url, requested_url=url, text=text, content_type="text/html"),
        fallback_title=file_name,
    )
    return page.text if page is not None else ""
