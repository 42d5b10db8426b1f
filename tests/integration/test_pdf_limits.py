"""PDFs are read in processes of their own, under caps on what they inflate to and a time limit."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import resource
import time

import pytest

from searchqa import pdf
from searchqa.errors import InvalidRequestError
from searchqa.files import read_file_text
from searchqa.pdf import MAX_PDF_PAGES, MAX_PDF_TEXT_CHARS, read_pdf_text
from tests.fakes.documents import bomb_pdf, pdf_of_pages, tiny_pdf


def _show(text: str) -> bytes:
    return f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _reader_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def test_a_pdf_inflating_to_400_mb_is_refused_quickly_as_too_large() -> None:
    await read_pdf_text(tiny_pdf("warm"), "warm.pdf")  # a reader process's start is not timed
    started = time.monotonic()
    with pytest.raises(InvalidRequestError) as refused:
        await read_file_text("bomb.pdf", None, bomb_pdf(400_000_000), url="upload:bomb.pdf")
    assert time.monotonic() - started < 1.0
    assert (refused.value.code, refused.value.http_status) == ("file_too_large", 413)
    assert refused.value.message.startswith("bomb.pdf is too large once decompressed")


async def test_a_pdf_inflating_to_50_mb_costs_no_cpu_here_and_is_refused() -> None:
    await read_pdf_text(tiny_pdf("warm"), "warm.pdf")
    before = _cpu_s()
    with pytest.raises(InvalidRequestError) as refused:
        await read_pdf_text(bomb_pdf(50_000_000), "bomb.pdf")
    assert refused.value.code == "file_too_large"
    assert _cpu_s() - before < 0.5


async def test_a_large_valid_pdf_is_still_read() -> None:
    line = "The lighthouse keeper climbs the stairs at dusk"
    pages = [
        b"BT /F1 11 Tf 72 760 Td 14 TL "
        + b" ".join(f"(page {n}: {line} {i}) '".encode() for i in range(40))
        + b" ET"
        for n in range(300)
    ]
    pages.append(_show("A drawing-heavy page.") + b"\n" + b" " * 8_000_000)
    text = await read_pdf_text(pdf_of_pages(pages, compressed=True), "book.pdf")
    assert "page 0: The lighthouse keeper" in text
    assert "page 299: The lighthouse keeper" in text
    assert "A drawing-heavy page." in text


async def test_a_page_that_inflates_too_far_is_skipped_and_the_rest_kept() -> None:
    pages = [_show("Chapter one."), _show("Map.") + b" " * 20_000_000, _show("Chapter two.")]
    text = await read_pdf_text(pdf_of_pages(pages, compressed=True), "atlas.pdf")
    assert "Chapter one." in text
    assert "Chapter two." in text
    assert "Map." not in text


async def test_the_pages_read_and_the_text_kept_are_capped() -> None:
    many = [_show(f"p{n}") for n in range(MAX_PDF_PAGES + 2)]
    text = await read_pdf_text(pdf_of_pages(many, compressed=True), "many.pdf")
    assert text.endswith(f"p{MAX_PDF_PAGES - 1}")

    wordy = [_show("word " * 30_000)] * (MAX_PDF_TEXT_CHARS // 150_000 + 2)
    text = await read_pdf_text(pdf_of_pages(wordy, compressed=True), "wordy.pdf")
    assert len(text) == MAX_PDF_TEXT_CHARS


async def test_a_pdf_that_reads_too_long_is_refused_and_its_reader_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await read_pdf_text(tiny_pdf("warm"), "warm.pdf")
    monkeypatch.setattr(pdf, "PDF_READ_TIMEOUT_S", 0.3)
    slow = pdf_of_pages([_show("slow") + b" " * 9_000_000] * 5, compressed=True)
    started = time.monotonic()
    with pytest.raises(InvalidRequestError) as refused:
        await read_pdf_text(slow, "slow.pdf")
    assert time.monotonic() - started < 1.5
    assert (refused.value.code, refused.value.http_status) == ("unreadable_file", 422)
    assert refused.value.message == "slow.pdf took too long to read (more than 0.3 s)"
    await asyncio.sleep(0.2)
    readers = [p.pid for p in multiprocessing.active_children() if p.name == "searchqa-pdf"]
    spent = {pid: _reader_cpu_s(pid) for pid in readers if pid is not None}
    await asyncio.sleep(0.5)
    assert all(_reader_cpu_s(pid) - cpu < 0.1 for pid, cpu in spent.items())


async def test_the_event_loop_stays_responsive_while_a_pdf_is_read() -> None:
    await read_pdf_text(tiny_pdf("warm"), "warm.pdf")
    slow = pdf_of_pages([_show(f"page {n}") + b" " * 8_000_000 for n in range(3)], compressed=True)
    gaps: list[float] = []

    async def tick() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    before = _cpu_s()
    try:
        text = await read_pdf_text(slow, "slow.pdf")
    finally:
        ticker.cancel()
    assert "page 2" in text
    assert _cpu_s() - before < 0.5, "the PDF was parsed in the event loop's process"
    assert max(gaps) < 0.1


async def test_a_cancelled_read_stops_its_reader() -> None:
    await read_pdf_text(tiny_pdf("warm"), "warm.pdf")
    slow = pdf_of_pages([_show("slow") + b" " * 9_000_000] * 10, compressed=True)
    reading = asyncio.create_task(read_pdf_text(slow, "slow.pdf"))
    await asyncio.sleep(0.3)
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    await asyncio.sleep(0.3)
    readers = [p.pid for p in multiprocessing.active_children() if p.name == "searchqa-pdf"]
    spent = {pid: _reader_cpu_s(pid) for pid in readers if pid is not None}
    here = _cpu_s()
    await asyncio.sleep(0.5)
    assert all(_reader_cpu_s(pid) - cpu < 0.1 for pid, cpu in spent.items())
    assert _cpu_s() - here < 0.1, "the read goes on in this process"
