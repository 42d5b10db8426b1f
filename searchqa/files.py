"""Files as text: the one place that knows file types, size caps and readers.

``ask --file``, ``extract FILE``, ``POST /v1/files/answer`` and ``index`` accept the same files
with the same limits: plain text (.txt, .text, .rst), Markdown (.md, .markdown), HTML (.html,
.htm, .xhtml; its main text, through trafilatura) and PDF (its text layer, through pypdf). A
PDF is known by its bytes; other files by their media type, else their suffix.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote_to_bytes, urlsplit

from searchqa.documents import FetchedPage, Page
from searchqa.errors import InvalidRequestError
from searchqa.net.body import decode_text
from searchqa.pdf import read_pdf_text
from searchqa.settings import MAX_FILE_BYTES
from searchqa.steps.extract import (
    ExtractedText,
    PageExtractor,
    extract_main_text,
)

if TYPE_CHECKING:
    pass

FileKind = Literal["text", "markdown", "html", "pdf"]
SUPPORTED = "plain text, Markdown, reStructuredText, HTML or PDF"
SUFFIXES: dict[str, FileKind] = {
    ".txt": "text",
    ".text": "text",
    ".rst": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pdf": "pdf",
}
MEDIA_TYPES: dict[str, FileKind] = {
    "text/plain": "text",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/x-rst": "text",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
}
SNIFF_BYTES = 8192
"""How much of a file's start decides its kind (a PDF signature, a NUL byte)."""
_UNTYPED = {"", "application/octet-stream", "binary/octet-stream"}
_SCHEME = re.compile(r"\A([A-Za-z][A-Za-z0-9+.-]*):(//)?")
"""A URL's scheme; ``notes:v2.md`` (no ``//`` after an unknown scheme) is a file name."""

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_FRONT_FIELD = re.compile(r"^(title|date)[ \t]*:[ \t]*(.+?)[ \t]*$", re.MULTILINE | re.IGNORECASE)
_ATX_HEADING = re.compile(r"^[ ]{0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)
# A line underlined (reST: optionally also overlined) by a run of one punctuation character.
# The title line is matched as ``[^\n]+`` and checked for text in code: ``[^\n]*\S[^\n]*`` would
# backtrack quadratically on long lines.
_UNDERLINED = re.compile(r"^([^\n]+)\n([=\-~^\"'`*+#:.])\2{2,}[ \t]*$", re.MULTILINE)
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FileText:
    """What a file says: its title, its main text and its date, when it has one."""

    name: str
    url: str
    kind: FileKind
    title: str
    text: str
    published: str | None = None


def _unsupported(message: str) -> InvalidRequestError:
    return InvalidRequestError(message, code="unsupported_type", http_status=415)


def kind_by_suffix(name: str) -> FileKind | None:
    """The kind a file name promises; None for a suffix no reader takes."""
    return SUFFIXES.get(PurePosixPath(name).suffix.lower())


def classify_file(name: str, content_type: str | None, head: bytes) -> FileKind:
    """The kind of a file: by its bytes for PDF, else its media type, else its suffix.

    Raises InvalidRequestError (415) for other types, binary files and a ``.pdf`` that is not one.
    """
    if head.startswith(b"%PDF-"):
        return "pdf"
    media = (content_type or "").split(";", 1)[0].strip().lower()
    kind = MEDIA_TYPES.get(media)
    if media in _UNTYPED or media == "text/plain":
        # Browsers and form libraries label unknown files this way: the name knows better.
        kind = kind_by_suffix(name) or kind
    if kind is None:
        raise _unsupported(f"{name} ({media or 'untyped'}) is not {SUPPORTED}")
    if kind == "pdf":
        raise _unsupported(f"{name} is not a PDF file")
    if b"\x00" in head:
        raise _unsupported(f"{name} is not a text file")
    return kind


def url_or_path(target: str) -> str | Path:
    """What a command-line target names: an http(s) URL (its scheme in lower case), or a
    local path, given as is or as a ``file:`` URL (percent-decoded; no host, or localhost).

    Raises InvalidRequestError for a URL of another scheme or a file: URL of another host.
    """
    match = _SCHEME.match(target)
    scheme = match.group(1).lower() if match is not None else ""
    if scheme in ("http", "https"):
        return scheme + target[len(scheme) :]
    if scheme == "file":
        parts = urlsplit(target)
        if parts.netloc.lower() in ("", "localhost"):
            return Path(os.fsdecode(unquote_to_bytes(parts.path)))
        problem = "a file: URL must name a file on this machine (no host, or localhost)"
    elif match is not None and match.group(2):
        problem = "only http and https URLs, local paths and file: URLs are read"
    else:
        return Path(target)
    raise InvalidRequestError(f"cannot read {target}: {problem}", code="unsupported_url")


def read_local_bytes(path: Path) -> bytes:
    """A local file's bytes, refused past ``MAX_FILE_BYTES`` or when unreadable."""
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InvalidRequestError(
            f"cannot read {path}: {exc.strerror or exc}", code="bad_file"
        ) from exc
    check_size(str(path), len(raw))
    return raw


def check_size(name: str, size: int, *, limit: int = MAX_FILE_BYTES) -> None:
    """Refuse a file larger than ``limit`` bytes (413)."""
    if size > limit:
        raise InvalidRequestError(
            f"{name} is larger than {limit} bytes", code="file_too_large", http_status=413
        )


async def read_file_text(
    name: str,
    content_type: str | None,
    raw: bytes,
    *,
    url: str,
    extractor: PageExtractor | None = None,
) -> FileText:
    """The text of a file (uploaded or local); InvalidRequestError when it cannot be read.

    HTML goes to ``extractor``'s workers, or is extracted in a thread when there is none.
    """
    kind = classify_file(name, content_type, raw[:SNIFF_BYTES])
    if kind == "pdf":
        return FileText(name, url, kind, name, await read_pdf_text(raw, name))
    decoded = await asyncio.to_thread(decode_text, raw, None, html=kind == "html")
    if kind != "html":
        plain = await asyncio.to_thread(parse_plain_document, decoded, name)
        return FileText(name, url, kind, plain.title, plain.text, plain.published)
    page: ExtractedText | Page | None
    if extractor is None:
        page = await asyncio.to_thread(extract_main_text, decoded, url)
    else:
        page = await extractor.extract(
            FetchedPage(url=url, requested_url=url, text=decoded, content_type="text/html"),
            fallback_title=name,
        )
    if page is None:
        return FileText(name, url, kind, name, "")
    return FileText(name, url, kind, page.title or name, page.text, page.published)


async def read_local_file(path: Path, *, extractor: PageExtractor | None = None) -> FileText:
    """``read_file_text`` for a local file (no media type: its suffix decides)."""
    raw, url = await asyncio.to_thread(_bytes_and_url, path)
    return await read_file_text(path.name, None, raw, url=url, extractor=extractor)


def _bytes_and_url(path: Path) -> tuple[bytes, str]:
    return read_local_bytes(path), path.expanduser().resolve().as_uri()


@dataclass(frozen=True, slots=True)
class PlainDocument:
    """A Markdown, reST or text file's title, text and date (front matter)."""

    title: str
    text: str
    published: str | None = None


def parse_plain_document(text: str, name: str) -> PlainDocument:
    """Title = front-matter title, else the first heading, else the file name; text as is."""
    title: str | None = None
    published: str | None = None
    front = _FRONT_MATTER.match(text)
    if front is not None:
        for key, value in _FRONT_FIELD.findall(front.group(1)):
            value = value.strip("\"'")
            if key.lower() == "title" and value:
                title = value
            elif key.lower() == "date" and value:
                published = value
        text = text[front.end() :]
    if title is None:
        title = _first_heading(text) or name
    return PlainDocument(title=title, text=text.strip(), published=published)


def _first_heading(text: str) -> str | None:
    candidates = [
        (m.start(), m.group(1).strip())
        for m in (
            _ATX_HEADING.search(text),
            next((u for u in _UNDERLINED.finditer(text) if u.group(1).strip()), None),
        )
        if m is not None
    ]
    return min(candidates)[1] if candidates else None
