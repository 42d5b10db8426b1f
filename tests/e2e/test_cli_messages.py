"""What the command line says, and how it exits, when a target is odd or missing."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.e2e.conftest import World
from tests.fakes.documents import bomb_pdf

NOTES = "# Tide notes\n\nThe tide turns twice a day at the old harbour.\n"


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    path = tmp_path / "tide notes.md"
    path.write_text(NOTES, encoding="utf-8")
    return path


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize("form", ["file://{}", "file://localhost{}", "FILE:{}"])
def test_extract_reads_a_file_url_as_its_path(world: World, notes: Path, form: str) -> None:
    result = world.run("extract", "--meta", form.format(quote(str(notes))))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Title: Tide notes\n")
    assert "The tide turns twice a day" in result.stdout


def test_a_missing_file_url_is_named_by_its_path(world: World, tmp_path: Path) -> None:
    missing = tmp_path / "no such" / "notes.md"
    result = world.run("extract", "file://" + quote(str(missing)))
    assert result.returncode == 2
    assert _one_line(result.stderr) == f"searchqa: cannot read {missing}: No such file or directory"


def test_a_file_url_of_another_host_is_refused(world: World) -> None:
    result = world.run("extract", "file://fileserver/share/notes.md")
    assert result.returncode == 2
    assert _one_line(result.stderr) == (
        "searchqa: cannot read file://fileserver/share/notes.md: a file: URL must name a file on "
        "this machine (no host, or localhost)"
    )


@pytest.mark.parametrize("target", ["ftp://example.com/notes.md", "gopher://example.com/1"])
def test_other_schemes_are_refused_clearly(world: World, target: str) -> None:
    result = world.run("extract", target)
    assert result.returncode == 2
    assert _one_line(result.stderr) == (
        f"searchqa: cannot read {target}: only http and https URLs, local paths and file: URLs "
        "are read"
    )


def test_an_upper_case_scheme_is_fetched_like_a_lower_case_one(world: World) -> None:
    page = world.page("english")
    result = world.run("extract", "HTTP" + page.removeprefix("http"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == world.run("extract", page).stdout


def test_a_page_that_fails_is_named_once(world: World) -> None:
    url = f"{world.web.url}/status/404"
    result = world.run("extract", url)
    assert result.returncode == 3
    line = _one_line(result.stderr)
    assert line.count(url) == 1, line
    assert line == f"searchqa: {url}: HTTP 404"


def test_ask_about_a_file_url(world: World, notes: Path) -> None:
    result = world.run("ask", "--json", "--file", notes.as_uri(), "When does the tide turn?")
    assert result.returncode == 0, result.stderr
    web = world.run("ask", "--file", world.page("english"), "What is this?")
    assert web.returncode == 2
    assert "--file takes a local path or file: URL" in _one_line(web.stderr)


def test_index_exits_2_when_no_source_can_be_read(world: World, tmp_path: Path) -> None:
    env = world.env(SEARCHQA_INDEX__PATH=str(tmp_path / "index.db"))
    missing = world.run("index", "/nope", env=env)
    assert missing.returncode == 2
    assert "1 failed (not_found: 1)" in missing.stdout

    bomb = tmp_path / "bomb.pdf"
    bomb.write_bytes(bomb_pdf(400_000_000))
    refused = world.run("index", "ftp://example.com/docs", str(bomb), env=env)
    assert refused.returncode == 2
    assert "2 failed" in refused.stdout


def test_index_exits_1_when_only_some_sources_fail(
    world: World, tmp_path: Path, notes: Path
) -> None:
    env = world.env(SEARCHQA_INDEX__PATH=str(tmp_path / "index.db"))
    some = world.run("index", str(notes), "/nope", env=env)
    assert some.returncode == 1
    assert some.stdout.startswith("1 added, 0 updated, 0 unchanged, 0 removed, 1 failed")

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "notes.md").write_text(NOTES, encoding="utf-8")
    (folder / "bomb.pdf").write_bytes(bomb_pdf(400_000_000))
    partly = world.run("index", str(folder), env=env)
    assert partly.returncode == 1
    assert "1 failed (file_too_large: 1)" in partly.stdout


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_serve_on_a_busy_port_says_so_in_one_line(world: World, busy_port: int) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "searchqa.cli", "serve", "--port", str(busy_port)],
        capture_output=True,
        text=True,
        env=world.env(),
        cwd=world.home,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"searchqa: port {busy_port} on 127.0.0.1 is already in use\n"
