"""Local files for the index: finding them and telling when they changed.

Which files count and how they are read is ``searchqa.files``'s business.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from searchqa.files import kind_by_suffix, read_local_bytes


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
    return kind_by_suffix(path.name) is not None


def read_file(path: Path) -> tuple[bytes, str]:
    """The file's bytes and their SHA-256, the content hash that decides re-indexing.

    Raises InvalidRequestError like every file read (too large, unreadable)."""
    raw = read_local_bytes(path)
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
