"""The images' Dockerfiles: hadolint-clean, unprivileged, health-checked, and given the files
their build needs (the build context is cut down by .dockerignore)."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest

from tests.deploy.stack import DEPLOY, REPO, ToolError, hadolint

DOCKERFILES = [REPO / "Dockerfile", DEPLOY / "router" / "Dockerfile"]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: str(path.relative_to(REPO)))
def test_dockerfiles_pass_hadolint_and_run_unprivileged(dockerfile: Path) -> None:
    hadolint(dockerfile)
    text = dockerfile.read_text()
    [user] = re.findall(r"^USER (\S+)$", text, re.MULTILINE)
    assert user not in ("root", "0")
    assert re.search(r"^FROM python:3\.1\d-slim-bookworm", text, re.MULTILINE)


def test_the_searchqa_image_checks_its_own_health_and_listens_everywhere() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", text, re.MULTILINE)
    assert "SEARCHQA_SERVER__HOST=0.0.0.0" in text
    assert re.search(r"SEARCHQA_SERVER__WORKERS=([2-9]|\d\d)", text)
    assert text.rstrip().endswith('CMD ["searchqa", "serve"]')


def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rule: the last matching pattern wins, ``!`` re-includes."""
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        bare = pattern.removeprefix("!").rstrip("/").removeprefix("**/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: end + 1]) for end in range(len(parts))]
        if any(fnmatch.fnmatch(prefix, bare) for prefix in prefixes) or fnmatch.fnmatch(
            parts[-1], bare
        ):
            result = not negate
    return result


def test_the_build_context_holds_what_the_wheel_is_built_from() -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", (REPO / "Dockerfile").read_text(), re.M)
    sources = [source for line in copied for source in line.split()]
    assert {"pyproject.toml", "README.md", "searchqa", "templates", "docs"} <= set(sources)
    for source in sources:
        assert (REPO / source).exists(), source
        assert not ignored(source, patterns), f"{source} is left out of the build context"
    assert not ignored("searchqa/api/app.py", patterns)
    assert not ignored("templates/search_answer_en.txt", patterns)
    for kept_out in (".venv/bin/python", "tests/conftest.py", ".git/HEAD", "bench/RESULTS.md"):
        assert ignored(kept_out, patterns), kept_out
    assert ignored("searchqa/__pycache__/kit.cpython-311.pyc", patterns)


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ("COPY --from=build", "COPY --frm=build", "invalid flag"),
        ("USER 10001", "USER root", "DL3002"),  # the last USER is root
        ("FROM python:3.11-slim-bookworm\nENV PATH", "FROM python\nENV PATH", "DL3006"),
    ],
    ids=["syntax", "root", "untagged-base"],
)
def test_a_broken_dockerfile_fails(tmp_path: Path, old: str, new: str, complaint: str) -> None:
    text = (REPO / "Dockerfile").read_text()
    assert old in text
    broken = tmp_path / "Dockerfile"
    broken.write_text(text.replace(old, new))
    with pytest.raises(ToolError, match=complaint):
        hadolint(broken)
