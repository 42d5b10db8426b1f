"""The index database: a ``documents`` table plus an FTS5 table over the same rowids.

Synchronous and single-threaded by design: callers run it in a worker thread. The database
is in WAL mode, so one writer and any number of readers can work at the same time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from searchqa.errors import SearchError
from searchqa.index.tokenize import cjk_grams, clean_text, index_text

SCHEMA_VERSION = 1
TITLE_WEIGHT = 4.0
"""BM25 weight of a title match relative to a body match."""
MATCH_START = "\x02"
MATCH_END = "\x03"
"""Markers ``highlight()`` puts around matched words; ``clean_text`` keeps them out of documents."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    source_root TEXT NOT NULL,
    title TEXT NOT NULL,
    published TEXT,
    content_hash TEXT NOT NULL,
    indexed_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_by_source_root ON documents (source_root);
CREATE VIRTUAL TABLE IF NOT EXISTS document_text USING fts5 (
    title, body, title_cjk, body_cjk,
    tokenize = 'porter unicode61 remove_diacritics 2'
);
"""

UpsertOutcome = Literal["added", "updated", "unchanged"]


@dataclass(frozen=True, slots=True)
class IndexedDocument:
    """One document as it goes into the index."""

    url: str
    source_root: str
    title: str
    text: str
    content_hash: str
    published: str | None = None


@dataclass(frozen=True, slots=True)
class StoredMatch:
    """One search result, with the matched words of the body between MATCH_START/MATCH_END."""

    url: str
    title: str
    published: str | None
    marked_body: str
    body: str


class IndexStore:
    """One connection to the index database; use it from a single thread."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    @classmethod
    def open_writer(cls, path: Path) -> IndexStore:
        """Open (creating if needed) the database for writing; SearchError if unusable."""
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA busy_timeout = 30000")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                db.close()
                raise SearchError(
                    f"local index {path} has schema version {version}, expected {SCHEMA_VERSION}",
                    code="index_unusable",
                )
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            raise _unusable(path, exc) from exc
        return cls(db)

    @classmethod
    def open_reader(cls, path: Path) -> IndexStore | None:
        """Open the database read-only; None when it does not exist or holds no index yet."""
        if not path.is_file():
            return None
        try:
            db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.DatabaseError as exc:
            raise _unusable(path, exc) from exc
        try:
            db.execute("PRAGMA busy_timeout = 5000")
            found = db.execute(
                "SELECT count(*) FROM sqlite_master WHERE name IN ('documents', 'document_text')"
            ).fetchone()[0]
        except sqlite3.DatabaseError as exc:
            db.close()
            raise _unusable(path, exc) from exc
        if found < 2:
            db.close()
            return None
        return cls(db)

    def close(self) -> None:
        self._db.close()

    def commit(self) -> None:
        if self._db.in_transaction:
            self._db.execute("COMMIT")

    def content_hashes(self, url_prefix: str) -> dict[str, str]:
        """``url -> content_hash`` of every document whose URL starts with ``url_prefix``."""
        rows = self._db.execute(
            "SELECT url, content_hash FROM documents WHERE url >= ? AND url < ?",
            (url_prefix, url_prefix + "\U0010ffff"),
        )
        return dict(rows.fetchall())

    def urls_from(self, source_root: str) -> set[str]:
        """URLs of the documents last indexed from ``source_root``."""
        rows = self._db.execute("SELECT url FROM documents WHERE source_root = ?", (source_root,))
        return {url for (url,) in rows.fetchall()}

    def content_hash(self, url: str) -> str | None:
        row = self._db.execute("SELECT content_hash FROM documents WHERE url = ?", (url,))
        found = row.fetchone()
        return None if found is None else str(found[0])

    def upsert(self, doc: IndexedDocument) -> UpsertOutcome:
        """Add or replace ``doc``; a document with the same content hash is left as it is."""
        self._begin()
        row = self._db.execute(
            "SELECT id, content_hash, source_root FROM documents WHERE url = ?", (doc.url,)
        ).fetchone()
        if row is not None and row[1] == doc.content_hash:
            if row[2] != doc.source_root:
                self._db.execute(
                    "UPDATE documents SET source_root = ? WHERE id = ?", (doc.source_root, row[0])
                )
            return "unchanged"
        now = datetime.now(UTC).isoformat(timespec="seconds")
        fields = (doc.source_root, clean_text(doc.title), doc.published, doc.content_hash, now)
        if row is None:
            doc_id = self._db.execute(
                "INSERT INTO documents (source_root, title, published, content_hash, indexed_at,"
                " url) VALUES (?, ?, ?, ?, ?, ?)",
                (*fields, doc.url),
            ).lastrowid
        else:
            doc_id = row[0]
            self._db.execute(
                "UPDATE documents SET source_root = ?, title = ?, published = ?,"
                " content_hash = ?, indexed_at = ? WHERE id = ?",
                (*fields, doc_id),
            )
            self._db.execute("DELETE FROM document_text WHERE rowid = ?", (doc_id,))
        self._db.execute(
            "INSERT INTO document_text (rowid, title, body, title_cjk, body_cjk)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                doc_id,
                index_text(doc.title),
                index_text(doc.text),
                cjk_grams(doc.title),
                cjk_grams(doc.text),
            ),
        )
        return "added" if row is None else "updated"

    def delete(self, urls: Iterable[str]) -> list[str]:
        """Remove the documents at ``urls``; returns the URLs that were in the index."""
        self._begin()
        removed: list[str] = []
        for url in urls:
            row = self._db.execute("SELECT id FROM documents WHERE url = ?", (url,)).fetchone()
            if row is None:
                continue
            self._db.execute("DELETE FROM document_text WHERE rowid = ?", (row[0],))
            self._db.execute("DELETE FROM documents WHERE id = ?", (row[0],))
            removed.append(url)
        return removed

    def search(self, match: str, limit: int) -> list[StoredMatch]:
        """Best ``limit`` documents for an FTS5 MATCH expression, by BM25 (title weighted)."""
        try:
            rows = self._db.execute(
                "SELECT d.url, d.title, d.published,"
                f" highlight(document_text, 1, '{MATCH_START}', '{MATCH_END}'),"
                " document_text.body"
                " FROM document_text JOIN documents AS d ON d.id = document_text.rowid"
                " WHERE document_text MATCH ?"
                f" ORDER BY bm25(document_text, {TITLE_WEIGHT}, 1.0, {TITLE_WEIGHT}, 1.0)"
                " LIMIT ?",
                (match, limit),
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            raise SearchError(f"local index query failed: {exc}", code="index_unusable") from exc
        return [
            StoredMatch(url=r[0], title=r[1], published=r[2], marked_body=r[3], body=r[4])
            for r in rows
        ]

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM documents").fetchone()[0])

    def _begin(self) -> None:
        if not self._db.in_transaction:
            self._db.execute("BEGIN IMMEDIATE")


def _unusable(path: Path, exc: sqlite3.DatabaseError) -> SearchError:
    return SearchError(f"local index {path} is unusable: {exc}", code="index_unusable")
