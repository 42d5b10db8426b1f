"""Documents made on the spot for tests: PDFs with a text layer, and PDF bombs."""

from __future__ import annotations

import zlib

_CHUNK = 1 << 20


def tiny_pdf(text: str) -> bytes:
    """A one-page PDF that shows ``text``, written by hand."""
    return pdf_of_pages([_show(text)])


def pdf_of_pages(contents: list[bytes], *, compressed: bool = False) -> bytes:
    """A PDF with one page per content stream, FlateDecode-compressed when ``compressed``."""
    count = len(contents)
    first_page = 4  # objects: 1 catalog, 2 page tree, 3 font, then a page and its contents each
    kids = b" ".join(b"%d 0 R" % (first_page + 2 * i) for i in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, content in enumerate(contents):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 3 0 R >> >> >>" % (first_page + 2 * i + 1)
        )
        objects.append(_stream(zlib.compress(content, 9) if compressed else content, compressed))
    return _assemble(objects)


def bomb_pdf(inflated_bytes: int, text: str = "Hello from a bomb.") -> bytes:
    """A one-page PDF whose content stream shows ``text``, then spaces: ``inflated_bytes`` in
    all (rounded up to a MiB), about 1000 times the file's size."""
    first = _show(text) + b"\n"
    chunks = -(-inflated_bytes // _CHUNK)
    head = _deflate_block(first + b" " * (_CHUNK - len(first)))
    spaces = b" " * _CHUNK
    body = _deflate_block(spaces)
    checksum = zlib.adler32(first + spaces[len(first) :])
    for _ in range(chunks - 1):
        checksum = zlib.adler32(spaces, checksum)
    # zlib header, the blocks (each compressed on its own, so one is repeated), the last block.
    data = b"\x78\xda" + head + body * (chunks - 1) + b"\x03\x00" + checksum.to_bytes(4, "big")
    return _assemble(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R "
            b"/Resources << /Font << /F1 3 0 R >> >> >>",
            _stream(data, compressed=True),
        ]
    )


def _deflate_block(data: bytes) -> bytes:
    squeezer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return squeezer.compress(data) + squeezer.flush(zlib.Z_FULL_FLUSH)


def _show(text: str) -> bytes:
    return f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()


def _stream(data: bytes, compressed: bool) -> bytes:
    flate = b" /Filter /FlateDecode" if compressed else b""
    return b"<< /Length %d%s >>\nstream\n%s\nendstream" % (len(data), flate, data)


def _assemble(objects: list[bytes]) -> bytes:
    pdf, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    pdf += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    pdf += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return pdf
