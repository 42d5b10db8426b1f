"""PDF text, read in reader processes under caps, so a PDF bomb costs little and can be stopped.

A file built to cost memory or CPU (streams that inflate to hundreds of megabytes, a page that
never ends) is read by pypdf in a process of its own: a thread cannot be killed, a process can.
Used by ``searchqa.files`` for every PDF, whichever command or route reads it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import logging
import multiprocessing
import os
import resource
import threading
import time
import weakref
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext, SpawnContext
from typing import TYPE_CHECKING, Literal

from searchqa.errors import InvalidRequestError
from searchqa.settings import MAX_FILE_BYTES
from searchqa.steps.extract import WORKER_NICENESS

if TYPE_CHECKING:
    from pypdf import PdfReader

MAX_PDF_STREAM_BYTES = MAX_FILE_BYTES
"""Most bytes one part of a PDF (a page's drawing, a font) may inflate to: no more than a whole
file may hold. A page past it is skipped; a PDF with nothing else is refused as too large."""
MAX_PDF_PAGES = 1000
"""Pages of a PDF that are read; later ones are left out."""
MAX_PDF_TEXT_CHARS = 2_000_000
"""Text kept from a PDF (a long book): reading stops once this much is found."""
PDF_READ_S = 10.0
"""Time spent reading a PDF's pages; the text found by then is kept."""
PDF_READ_TIMEOUT_S = 20.0
"""Longest a PDF may take: past it (one page that never ends) its reader process is killed."""
PDF_READ_MEMORY_BYTES = 1 << 30
"""Memory a reader process may take on top of what it holds at start; one that peaked past a
quarter of it is replaced after its read."""
PDF_READERS = 2
"""PDFs read at once, each in its own process."""
log = logging.getLogger(__name__)

# PDF: pypdf runs in reader processes, so that a file built to cost memory or CPU (a "PDF bomb")
# can be stopped: a thread cannot be killed, a process can.

PdfOutcome = tuple[Literal["text", "too_large", "encrypted", "unreadable"], str]
"""What a reader process says about one PDF: its text, or why there is none."""
_PDF_OUTPUT_LIMITS = (
    "zlib_maximum_output_length",
    "lzw_maximum_output_length",
    "run_length_maximum_output_length",
    "brotli_maximum_output_length",
    "array_based_stream_maximum_output_length",
)
"""pypdf's limits on what one stream may inflate to, set to ``MAX_PDF_STREAM_BYTES`` (pypdf's own
are 75 MB: a 75 kB file then costs seconds of CPU)."""
_POLL_S = 0.05
_reader_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)
_idle_readers: list[_PdfReaderProcess] = []


async def read_pdf_text(raw: bytes, name: str) -> str:
    """A PDF's text layer, read in a reader process under the ``MAX_PDF_*`` caps and
    ``PDF_READ_TIMEOUT_S``; InvalidRequestError when it cannot be read (413 when it inflates
    past the caps, 422 otherwise)."""
    stop = threading.Event()
    timeout_s = PDF_READ_TIMEOUT_S
    async with _slots():
        try:
            outcome = await asyncio.to_thread(_read_in_reader_process, raw, stop, timeout_s)
        finally:
            stop.set()  # on cancellation: the thread kills the reader process
    kind, detail = outcome if outcome is not None else ("too_slow", "")
    if kind == "text":
        return detail
    log.info("unreadable PDF %s: %s %s", name, kind, detail)
    if kind == "too_large":
        raise InvalidRequestError(
            f"{name} is too large once decompressed (a part inflates past "
            f"{MAX_PDF_STREAM_BYTES} bytes)",
            code="file_too_large",
            http_status=413,
        )
    message = {
        "encrypted": f"{name} is encrypted",
        "too_slow": f"{name} took too long to read (more than {timeout_s:g} s)",
    }.get(kind, f"{name} is not a readable PDF")
    raise InvalidRequestError(message, code="unreadable_file", http_status=422)


def _slots() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    slots = _reader_slots.get(loop)
    if slots is None:
        slots = _reader_slots[loop] = asyncio.Semaphore(PDF_READERS)
    return slots


def _read_in_reader_process(
    raw: bytes, stop: threading.Event, timeout_s: float
) -> PdfOutcome | None:
    """Runs in a thread: hands ``raw`` to an idle reader (or a new one); None if time ran out."""
    try:
        reader = _idle_readers.pop()
    except IndexError:
        reader = _PdfReaderProcess()
    outcome = reader.read(raw, stop, timeout_s)
    if reader.reusable and len(_idle_readers) < PDF_READERS:
        _idle_readers.append(reader)
    else:
        reader.close()
    return outcome


class _PdfReaderProcess:
    """A process that reads one PDF at a time; killed when a read runs past its time."""

    def __init__(self) -> None:
        context = _process_context()
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve_pdf_reads, args=(child,), name="searchqa-pdf", daemon=True
        )
        self._process.start()
        child.close()
        self._ready = False
        self.reusable = False

    def read(self, raw: bytes, stop: threading.Event, timeout_s: float) -> PdfOutcome | None:
        """The reader's outcome; None when ``stop`` was set or ``timeout_s`` ran out."""
        self.reusable = False
        try:
            if not self._ready:  # its imports are not the file's fault: no deadline yet
                if not self._wait(stop, None):
                    return None
                self._conn.recv()
                self._ready = True
            self._conn.send_bytes(raw)
            if not self._wait(stop, time.monotonic() + timeout_s):
                return None
            outcome: PdfOutcome
            outcome, self.reusable = self._conn.recv()
        except (EOFError, OSError) as exc:  # it died: killed for memory, or crashed
            return ("unreadable", f"the reader process ended ({exc!r})")
        return outcome

    def _wait(self, stop: threading.Event, deadline: float | None) -> bool:
        while not self._conn.poll(_POLL_S):
            if stop.is_set() or (deadline is not None and time.monotonic() > deadline):
                return False
        return True

    def close(self) -> None:
        self._process.kill()
        self._process.join()
        self._conn.close()


def _process_context() -> ForkServerContext | SpawnContext:
    # Forking a process that runs threads (the event loop's executors, httpx) can deadlock.
    if "forkserver" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")


def _serve_pdf_reads(conn: Connection) -> None:
    """A reader process: PDF bytes in, (outcome, still small enough to reuse) out."""
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)  # the event loop's process must keep streaming to clients
    with contextlib.suppress(OSError, ValueError):
        page_size = os.sysconf("SC_PAGE_SIZE")
        with open("/proc/self/statm") as statm:
            held = int(statm.read().split()[0]) * page_size
        resource.setrlimit(
            resource.RLIMIT_AS, (held + PDF_READ_MEMORY_BYTES, resource.RLIM_INFINITY)
        )
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # nobody reads this process's warnings
    conn.send("ready")
    while True:
        try:
            raw = conn.recv_bytes()
        except EOFError:
            return
        outcome = _read_pdf(raw)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        conn.send((outcome, peak < PDF_READ_MEMORY_BYTES // 4))


def _read_pdf(raw: bytes) -> PdfOutcome:
    from pypdf import PdfReader, apply_configuration, get_configuration
    from pypdf.errors import LimitReachedError

    limits = dict.fromkeys(_PDF_OUTPUT_LIMITS, MAX_PDF_STREAM_BYTES)
    try:
        with apply_configuration(get_configuration().with_overwrites(**limits)):
            reader = PdfReader(io.BytesIO(raw))
            if reader.is_encrypted and not reader.decrypt(""):
                return ("encrypted", "")
            return _pages_text(reader)
    except (LimitReachedError, MemoryError) as exc:
        return ("too_large", str(exc))
    except Exception as exc:  # a malformed file breaks pypdf in many ways
        return ("unreadable", f"{type(exc).__name__}: {exc}")


def _pages_text(reader: PdfReader) -> PdfOutcome:
    from pypdf.errors import LimitReachedError

    parts: list[str] = []
    chars = skipped = 0
    give_up_at = time.monotonic() + PDF_READ_S
    for page in itertools.islice(reader.pages, MAX_PDF_PAGES):
        try:
            text = (page.extract_text() or "")[: MAX_PDF_TEXT_CHARS - chars]
        except (LimitReachedError, MemoryError):
            skipped += 1  # one oversized page (a huge drawing) does not hide the others
            continue
        parts.append(text)
        chars += len(text)
        if chars >= MAX_PDF_TEXT_CHARS or time.monotonic() > give_up_at:
            break
    text = "\n\n".join(parts).strip()[:MAX_PDF_TEXT_CHARS]
    if skipped and not text:
        return ("too_large", f"{skipped} page(s) inflate past {MAX_PDF_STREAM_BYTES} bytes")
    return ("text", text)
