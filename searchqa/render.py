"""Live terminal output for ``searchqa ask``: a stage line, the answer, then the sources."""

from __future__ import annotations

import re
from typing import assert_never

from rich.console import Console
from rich.status import Status
from rich.text import Text

from searchqa.events import (
    AnswerEvent,
    CitationEvent,
    DoneEvent,
    ErrorEvent,
    Event,
    MetaEvent,
    ReasoningEvent,
    SearchReport,
    Source,
    SourcesEvent,
    StatusEvent,
)

_CITATION = re.compile(r"\[\d+\]")
_STAGE_LABELS = {
    "search": "Searching",
    "fetch": "Fetching pages",
    "read": "Reading",
    "think": "Thinking",
    "answer": "Answering",
}


NO_SOURCES_NOTE = "Search found no sources: this answer comes from the model alone."


def _stage_line(event: StatusEvent) -> str:
    label = _STAGE_LABELS[event.stage]
    if event.stage == "think" and event.total:  # a local model reading its prompt
        return f"Reading the prompt: {event.done:,}/{event.total:,} tokens…"
    if event.total:
        return f"{label} {event.done}/{event.total}…"
    return f"{label}…"


def search_note(report: SearchReport) -> str:
    """One line on a search that fell back: the engine used and why those before it were not."""
    used = f"results from {report.engine}" if report.engine else "no engine found anything"
    failed = "; ".join(f"{failure.engine}: {failure.reason}" for failure in report.failed)
    return f"Search degraded, {used} ({failed})"


class TerminalRenderer:
    """Turns the event stream into what a person reads in a terminal."""

    def __init__(self, console: Console, *, show_reasoning: bool = False) -> None:
        self._console = console
        self._show_reasoning = show_reasoning
        self._status: Status | None = None
        self._sources: list[Source] = []
        self._in_reasoning = False
        self._answered = False

    def handle(self, event: Event) -> None:
        match event:
            case StatusEvent():
                self._set_status(_stage_line(event))
            case SourcesEvent():
                self._sources = event.sources
            case ReasoningEvent():
                if self._show_reasoning:
                    self._stop_status()
                    self._in_reasoning = True
                    self._console.print(Text(event.text, style="dim"), end="")
            case AnswerEvent():
                self._stop_status()
                if self._in_reasoning:
                    self._console.print("\n")
                    self._in_reasoning = False
                self._answered = True
                text = Text(event.text)
                text.highlight_regex(_CITATION, "bold cyan")
                self._console.print(text, end="")
            case DoneEvent():
                self._finish(event)
            case ErrorEvent():
                self._stop_status()
                if self._answered or self._in_reasoning:
                    self._console.print()
            case MetaEvent() | CitationEvent():
                pass  # the answer's [n] and the closing source list say it all
            case _:
                assert_never(event)

    def close(self) -> None:
        self._stop_status()

    def _set_status(self, line: str) -> None:
        if self._answered or self._in_reasoning:
            return
        if self._status is None:
            self._status = self._console.status(line, spinner="dots")
            self._status.start()
        else:
            self._status.update(line)

    def _stop_status(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def _finish(self, done: DoneEvent) -> None:
        self._stop_status()
        if self._in_reasoning and not self._answered:
            self._console.print()
        if not done.answer:
            self._console.print(Text("(the model gave no answer)", style="yellow"), end="")
        self._console.print()
        if "no_sources" in done.flags:
            self._console.print(Text(NO_SOURCES_NOTE, style="yellow"), soft_wrap=True)
        if "search_degraded" in done.flags and done.search is not None:
            self._console.print(Text(search_note(done.search), style="yellow"), soft_wrap=True)
        if not self._sources:
            return
        self._console.print()
        self._console.print(Text("Sources", style="bold"))
        cited = set(done.cited)
        for source in self._sources:
            line = Text(f"[{source.index}] ", style="bold cyan" if source.index in cited else "")
            line.append(source.title or source.site or source.url)
            line.append(f"\n    {source.url}", style="blue")
            self._console.print(line)
