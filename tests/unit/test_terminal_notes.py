"""What the terminal shows while a local model reads its prompt, and after a sourceless answer."""

from __future__ import annotations

from rich.console import Console

from searchqa.events import DoneEvent, StatusEvent, Timings, Usage
from searchqa.render import NO_SOURCES_NOTE, TerminalRenderer, _stage_line


def test_prefill_progress_reads_as_prompt_tokens_not_a_bare_thinking() -> None:
    assert _stage_line(StatusEvent(stage="think", done=512, total=1999)) == (
        "Reading the prompt: 512/1,999 tokens…"
    )
    assert _stage_line(StatusEvent(stage="think")) == "Thinking…"


def done(flags: list[str]) -> DoneEvent:
    return DoneEvent(
        answer="Paris.", reasoning="", cited=[], usage=Usage(), timings=Timings(), flags=flags
    )


def test_an_answer_without_sources_says_so() -> None:
    console = Console(record=True, width=120)
    TerminalRenderer(console).handle(done(["no_sources"]))
    assert NO_SOURCES_NOTE in console.export_text()
    console = Console(record=True, width=120)
    TerminalRenderer(console).handle(done([]))
    assert NO_SOURCES_NOTE not in console.export_text()
