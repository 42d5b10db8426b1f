"""The web widget: bundle size, and render cost per streamed token in Chromium.

Size: the shipped ``widget.js`` raw and gzip-compressed (level 9), beside the baseline of the
three libraries it bundles (marked, DOMPurify, eventsource-parser) built alone with the same
esbuild settings, so the difference is the widget's own code.

Render cost: ``bench/widget_render.ts`` (built with the widget's esbuild) streams a Markdown
answer with citations, code, a table and lists, about 4 characters per token, into the widget's
``AnswerRenderer`` (tail-block rendering, flushed after every token) and, in the same page,
re-renders the whole answer for every token (marked + DOMPurify + the citation pass on the full
text, the naive way). The whole-answer cost is measured on evenly spaced prefixes (``--samples``
of them), whose mean is the mean over all tokens. Needs ``npm ci`` in ``widget/`` and Debian's
``chromium``. Reproduce with::

    python -m bench.widget
"""

from __future__ import annotations

import argparse
import gzip
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from bench.simweb import markdown_table
from searchqa.api.widget_routes import BUNDLE_PATH
from tests.e2e.widget_support import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[1]
WIDGET = ROOT / "widget"
ESBUILD = WIDGET / "node_modules" / ".bin" / "esbuild"
BUILD_FLAGS = ["--bundle", "--minify", "--format=iife", "--target=es2020", "--log-level=warning"]
LIBRARIES_ONLY = (
    'import { Marked } from "marked"; import DOMPurify from "dompurify";'
    'import { createParser } from "eventsource-parser";'
    "window.libraries = [Marked, DOMPurify, createParser];"
)


@dataclass(frozen=True, slots=True)
class Size:
    name: str
    raw: int
    gzipped: int


def gzipped_size(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def esbuild(args: list[str], stdin: str | None = None) -> bytes:
    if not ESBUILD.exists():
        raise SystemExit("run `npm ci` in widget/ first (the benchmark builds with esbuild)")
    done = subprocess.run(
        [str(ESBUILD), *args],
        input=stdin.encode() if stdin else None,
        cwd=WIDGET,
        capture_output=True,
        check=True,
    )
    return done.stdout


def measure_sizes() -> list[Size]:
    bundle = BUNDLE_PATH.read_bytes()
    libraries = esbuild(BUILD_FLAGS, stdin=LIBRARIES_ONLY)
    return [
        Size("widget.js (shipped)", len(bundle), gzipped_size(bundle)),
        Size("baseline: the three libraries alone", len(libraries), gzipped_size(libraries)),
    ]


def measure_render(sizes_kb: Sequence[int], samples: int) -> list[dict[str, Any]]:
    script = esbuild([*BUILD_FLAGS, str(ROOT / "bench" / "widget_render.ts")]).decode()
    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_content("<!DOCTYPE html><html><body></body></html>")
        page.add_script_tag(content=script)
        page.evaluate("window.renderBench(2048, 20)")  # warm up the JIT
        for size in sizes_kb:
            results.append(
                page.evaluate("([b, s]) => window.renderBench(b, s)", [size * 1024, samples])
            )
        browser.close()
    return results


def report(sizes: list[Size], renders: list[dict[str, Any]]) -> str:
    size_rows = [[s.name, f"{s.raw / 1024:.1f} KB", f"{s.gzipped / 1024:.1f} KB"] for s in sizes]
    own = sizes[0].gzipped - sizes[1].gzipped
    render_rows = []
    for r in renders:
        tail_total = r["tailMsPerToken"] * r["tokens"] / 1000
        whole_total = r["wholeMsPerToken"] * r["tokens"] / 1000
        render_rows.append(
            [
                f"{r['bytes'] // 1024} KB",
                str(r["tokens"]),
                f"{r['tailMsPerToken'] * 1000:.0f} µs",
                f"{r['tailMaxMs']:.1f} ms",
                f"{r['wholeMsPerToken'] * 1000:.0f} µs ({r['wholeSampled']} samples)",
                f"{r['wholeMsPerToken'] / r['tailMsPerToken']:.1f}×",
                f"{tail_total:.2f} s",
                f"{whole_total:.1f} s",
                "yes" if r["sameText"] else "NO",
            ]
        )
    return "\n".join(
        [
            markdown_table(["file", "raw", "gzip -9"], size_rows),
            "",
            f"The widget's own code adds {own / 1024:.1f} KB gzip to the libraries.",
            "",
            markdown_table(
                [
                    "answer",
                    "tokens",
                    "tail: per token",
                    "tail: worst token",
                    "whole: per token",
                    "whole / tail",
                    "tail: all tokens",
                    "whole: all tokens",
                    "same text",
                ],
                render_rows,
            ),
        ]
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.widget", description=__doc__)
    parser.add_argument("--sizes", default="4,16,32", help="answer sizes in KB, comma-separated")
    parser.add_argument("--samples", type=int, default=150, help="whole-answer renders per size")
    args = parser.parse_args(argv)
    sizes_kb = [int(part) for part in args.sizes.split(",") if part.strip()]
    print(report(measure_sizes(), measure_render(sizes_kb, args.samples)))


if __name__ == "__main__":
    main()
