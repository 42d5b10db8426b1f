"""The official templates ship byte for byte, in the source tree and in the wheel."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from searchqa.steps.prompt import TemplateFile, load_template

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT.parent / "shared" / "spec" / "prompts"
SHA256 = {
    "file_answer.txt": "45e718c209246a85ab9edd367a84854b09a0c6b0afaa08043234a94f7b7341ae",
    "search_answer_en.txt": "0626f1984a3ff4d91859ad2cad443e04fcc2b61b6bd4784bfc49b89c05109f52",
    "search_answer_zh.txt": "26520ec2010163d604f8ebd442f391d0a6f26741b00d576b27c3c9bb0385bf1f",
}
NAMES: list[TemplateFile] = ["file_answer.txt", "search_answer_en.txt", "search_answer_zh.txt"]


@pytest.mark.parametrize("name", NAMES)
def test_template_matches_the_official_digest(name: TemplateFile) -> None:
    raw = (ROOT / "templates" / name).read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SHA256[name]
    assert load_template(name).encode("utf-8") == raw


@pytest.mark.parametrize("name", NAMES)
def test_template_equals_the_spec_copy(name: TemplateFile) -> None:
    if not SPEC.is_dir():
        pytest.skip("the spec folder is not beside this checkout")
    assert (ROOT / "templates" / name).read_bytes() == (SPEC / name).read_bytes()


def test_wheel_ships_the_templates(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("searchqa-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        for name in NAMES:
            shipped = archive.read(f"searchqa/templates/{name}")
            assert hashlib.sha256(shipped).hexdigest() == SHA256[name]
