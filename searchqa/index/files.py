"""Local files for the index: finding them, decoding them, titling Markdown, reST and text."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from searchqa.net.body import decode_text

HTML_SUFFIXES = frozenset({".html", ".htm"})
PLAIN_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".rst"})
SUPPORTED_SUFFIXES = HTML_SUFFIXES | PLAIN_SUFFIXES
MAX_FILE_BYTES = 20_000_000
"""Larger files are skipped (counted as failed, ``too_large``)."""

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_FRONT_FIELD = re.compile(r"^(title|date)[ \t]*:[ \t]*(.+?)[ \t]*$", re.MULTILINE | re.IGNORECASE)
_ATX_HEADING = re.compile(r"^[ ]{0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)
# A line underlined (reST: optionally also overlined) by a run of one punctuation character.
# The title line is matched as ``[^\n]+`` and checked for text in code: ``[^\n]*\S[^\n]*`` would
# backtrack quadratically on long lines.
_UNDERLINED = re.compile(r"^([^\n]+)\n([=\-~^\"'`*+#:.])\2{2,}[ \t]*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class PlainDocument:
    """A Markdown, reST or text file's title, text and date (front matter), as indexed."""

    title: str
    text: str
    published: str | None = None


@dataclass(frozen=True, slots=True)
class LocalSource:
    """What a path given to the indexer turned out to be; ``path`` is absolute and resolved."""

    kind: Literal["folder", "file", "missing", "unsupported"]
    path: Path


def inspect_source(path: Path) -> LocalSource:
    resolved = path.expanduser().resolve()
    if resolved.is_dir():
        return LocalSource("folder", resolved)
    if not resolved.is_file():
        return LocalSource("missing", resolved)
    return LocalSource("file" if is_supported(resolved) else "unsupported", resolved)


def file_url(path: Path) -> str:
    """The file:// URL of an absolute ``path`` (not resolved again: a link keeps its place)."""
    return path.as_uri()


def folder_url_prefix(folder: Path) -> str:
    """The prefix every file:// URL under the absolute ``folder`` starts with."""
    uri = folder.as_uri()
    return uri if uri.endswith("/") else uri + "/"


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES


class FileTooLargeError(Exception):
    """A file over MAX_FILE_BYTES: most likely a log or a data dump, not a document."""


def read_file(path: Path) -> tuple[bytes, str]:
    """The file's bytes and their SHA-256, the content hash that decides re-indexing."""
    with path.open("rb") as file:
        raw = file.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise FileTooLargeError(f"{path} is larger than {MAX_FILE_BYTES} bytes")
    return raw, hashlib.sha256(raw).hexdigest()


def discover_files(folder: Path) -> list[Path]:
    """Supported files under an absolute ``folder``, recursively, skipping hidden entries."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        base = Path(dirpath)
        found.extend(
            base / name
            for name in sorted(filenames)
            if not name.startswith(".") and is_supported(base / name)
        )
    return found


def decode_bytes(raw: bytes, *, html: bool = False) -> str:
    """The fetcher's charset rule: BOM, UTF-8, a meta charset (HTML), then detection."""
    return decode_text(raw, None, html=html)


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
