"""One file reader: ``ask --file``, ``extract``, uploads and ``index`` take the same files."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from searchqa.engines.local import LocalEngine
from searchqa.errors import InvalidRequestError
from searchqa.files import read_file_text, read_local_file
from searchqa.index.build import index_sources
from searchqa.settings import MAX_FILE_BYTES, IndexSettings, Settings
from tests.fakes.documents import tiny_pdf

MARKDOWN = (
    "---\ntitle: Keeper notes\ndate: 2026-11-02\n---\n\n"
    "# Ignored heading\n\nAda Moreau keeps the lighthouse.\n"
)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "keeper.pdf").write_bytes(tiny_pdf("The lighthouse keeper is Ada Moreau."))
    (docs / "notes.md").write_text(MARKDOWN, encoding="utf-8")
    (docs / "guide.rst").write_text("Tides\n=====\n\nThe tide turns twice a day.\n")
    (docs / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    return docs


async def test_a_local_pdf_reads_as_its_text_layer(folder: Path) -> None:
    document = await read_local_file(folder / "keeper.pdf")
    assert document.kind == "pdf"
    assert "The lighthouse keeper is Ada Moreau." in document.text
    assert document.url == (folder / "keeper.pdf").resolve().as_uri()


async def test_markdown_reads_the_same_from_disk_and_from_an_upload(folder: Path) -> None:
    local = await read_local_file(folder / "notes.md")
    raw = (folder / "notes.md").read_bytes()
    uploaded = await read_file_text("notes.md", "text/markdown", raw, url="upload:notes.md")
    assert (local.title, local.text, local.published) == (
        uploaded.title,
        uploaded.text,
        uploaded.published,
    )
    assert local.title == "Keeper notes"
    assert local.published == "2026-11-02"
    assert not local.text.startswith("---")


def test_the_index_takes_pdf_markdown_and_rest_but_not_images(tmp_path: Path, folder: Path) -> None:
    settings = Settings(index=IndexSettings(path=tmp_path / "index.sqlite3"))
    report = asyncio.run(index_sources([str(folder)], settings=settings))
    assert (report.added, report.failed) == (3, 0)
    hits = asyncio.run(
        LocalEngine(settings.index).search("lighthouse keeper", language="en", max_results=5)
    )
    assert [Path(hit.url).name for hit in hits] == ["keeper.pdf", "notes.md"]


async def test_every_reader_refuses_a_file_past_the_same_cap(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    with big.open("wb") as file:
        file.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(InvalidRequestError) as refused:
        await read_local_file(big)
    assert (refused.value.code, refused.value.http_status) == ("file_too_large", 413)

    report = await index_sources(
        [str(big)], settings=Settings(index=IndexSettings(path=tmp_path / "index.sqlite3"))
    )
    assert report.failures == {"too_large": 1}


@pytest.mark.parametrize(
    ("name", "content_type", "raw", "code"),
    [
        ("photo.png", "image/png", b"\x89PNG\r\n", "unsupported_type"),
        ("fake.pdf", "application/pdf", b"not a pdf at all", "unsupported_type"),
        ("broken.pdf", "application/pdf", b"%PDF-1.4\nnothing else", "unreadable_file"),
        ("data.txt", "text/plain", b"a\x00b", "unsupported_type"),
    ],
)
async def test_unreadable_files_are_refused_with_a_clear_code(
    name: str, content_type: str, raw: bytes, code: str
) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        await read_file_text(name, content_type, raw, url=f"upload:{name}")
    assert refused.value.code == code
