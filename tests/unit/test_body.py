"""Bounded decompression and the charset rule for page bodies."""

from __future__ import annotations

import codecs
import gzip
import zlib

import pytest

from searchqa.net.body import BodyDecodeError, BodyTooLargeError, Inflater, decode_text

TEXT = "Überschrift — 中文标题 — café\n" * 200


def inflate(encoding: str, payload: bytes, room: int = 10_000_000, step: int = 7) -> bytes:
    inflater = Inflater(encoding)
    output = b""
    for start in range(0, len(payload), step):
        output += inflater.feed(payload[start : start + step], room - len(output))
    return output


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("encoding", "payload"),
    [
        ("", TEXT.encode()),
        ("identity", TEXT.encode()),
        ("gzip", gzip.compress(TEXT.encode())),
        ("x-gzip", gzip.compress(TEXT.encode())),
        ("deflate", zlib.compress(TEXT.encode())),
        ("deflate", raw_deflate(TEXT.encode())),
        ("GZIP", gzip.compress(TEXT.encode()) + b"\0\0\0"),  # trailing padding is ignored
    ],
)
def test_inflates_every_accepted_encoding_in_small_pieces(encoding: str, payload: bytes) -> None:
    assert inflate(encoding, payload) == TEXT.encode()


def test_concatenated_gzip_members_are_all_read() -> None:
    payload = gzip.compress(b"first part, ") + gzip.compress(b"second part")
    assert inflate("gzip", payload) == b"first part, second part"


def test_inflating_stops_at_the_cap_in_bounded_steps() -> None:
    bomb = gzip.compress(b"\0" * 20_000_000)
    inflater = Inflater("gzip")
    with pytest.raises(BodyTooLargeError):
        inflater.feed(bomb, 1000)


def test_exactly_the_cap_is_allowed() -> None:
    assert len(inflate("gzip", gzip.compress(b"a" * 5000), room=5000)) == 5000
    with pytest.raises(BodyTooLargeError):
        inflate("gzip", gzip.compress(b"a" * 5001), room=5000)


def test_unknown_or_corrupt_encodings_are_decode_errors() -> None:
    with pytest.raises(BodyDecodeError):
        Inflater("br")
    with pytest.raises(BodyDecodeError):
        inflate("gzip", b"\x1f\x8b\x08\x00" + b"\xff" * 100, step=1000)


@pytest.mark.parametrize(
    ("body", "declared", "html", "expected"),
    [
        # valid UTF-8 wins over a legacy declaration
        ("Crème brûlée".encode(), "iso-8859-1", True, "Crème brûlée"),
        ("中文标题".encode(), "gbk", True, "中文标题"),
        # a correct legacy declaration is used, read as browsers read the label
        ("Café “Zoë” €".encode("cp1252"), "iso-8859-1", True, "Café “Zoë” €"),
        ("北京时间今天上午".encode("gbk"), "gb2312", True, "北京时间今天上午"),
        # the meta charset, or an XML declaration, when the header has none
        ('<meta charset="gbk"><p>北京时间今天上午</p>'.encode("gbk"), None, True, "北京时间"),
        (
            '<?xml version="1.0" encoding="windows-1252"?><p>Zoë €</p>'.encode("cp1252"),
            None,
            True,
            "Zoë €",
        ),
        # the byte-order mark beats everything
        (codecs.BOM_UTF8 + "Zoë".encode(), "iso-8859-1", True, "Zoë"),
        ("Zoë".encode("utf-16"), None, False, "Zoë"),
        # an unknown label is ignored
        ("Zoë".encode(), "x-no-such-charset", False, "Zoë"),
    ],
)
def test_charset_rule(body: bytes, declared: str | None, html: bool, expected: str) -> None:
    assert expected in decode_text(body, declared, html=html)


def test_meta_charset_is_not_read_from_plain_text() -> None:
    body = b'<meta charset="utf-16"> plain words'
    assert decode_text(body, None, html=False) == '<meta charset="utf-16"> plain words'


def test_a_wrong_declaration_falls_back_to_detection() -> None:
    paragraph = "高铁开通三年后，山区小城的游客翻了一番。县里的统计显示，游客增长超过一倍。"
    text = decode_text((paragraph * 3).encode("gb18030"), "utf-8", html=True)
    assert paragraph in text
