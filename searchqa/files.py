"""Local files as documents: for ``ask --file`` and ``extract FILE``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from searchqa.errors import InvalidRequestError
from searchqa.net.body import decode_text
from searchqa.steps.extract import extract_main_text

MAX_FILE_BYTES = 10_000_000
_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".xhtml": "text/html",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
}


@dataclass(frozen=True, slots=True)
class LocalDocument:
    name: str
    url: str
    text: str
    content_type: str


def _decode(raw: bytes, *, name: str, html: bool) -> str:
    """Text by the fetcher's charset rule; binary files are refused."""
    if b"\x00" in raw[:8192]:
        raise InvalidRequestError(
            f"{name} is not a text file", code="unsupported_type", http_status=415
        )
    return decode_text(raw, None, html=html)


def read_local_document(path: Path, *, extract: bool = True) -> LocalDocument:
    """Read ``path`` as text; with ``extract``, HTML is reduced to its main text."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InvalidRequestError(
                f"{path} has {size} bytes; the limit is {MAX_FILE_BYTES}",
                code="file_too_large",
                http_status=413,
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidRequestError(f"cannot read {path}: {exc.strerror}", code="bad_file") from exc
    content_type = _TYPES.get(path.suffix.lower(), "text/plain")
    text = _decode(raw, name=path.name, html=content_type == "text/html")
    url = path.resolve().as_uri()
    if extract and content_type == "text/html":
        extracted = extract_main_text(text, url, content_type)
        text = extracted.text if extracted else ""
    return LocalDocument(name=path.name, url=url, text=text, content_type=content_type)
