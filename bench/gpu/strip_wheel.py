"""Remove one file from a wheel and its RECORD, in place: python strip_wheel.py WHEEL PATH."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path


def strip(wheel: Path, member: str) -> None:
    """Rewrite ``wheel`` without ``member``."""
    temporary = wheel.with_suffix(".tmp")
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(temporary, "w") as target:
        for info in source.infolist():
            if info.filename == member:
                continue
            data = source.read(info.filename)
            if info.filename.endswith(".dist-info/RECORD"):
                lines = data.decode().splitlines()
                kept = (f"{line}\n" for line in lines if not line.startswith(member + ","))
                data = "".join(kept).encode()
            target.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    temporary.replace(wheel)


if __name__ == "__main__":
    strip(Path(sys.argv[1]), sys.argv[2])
