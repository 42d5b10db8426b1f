"""`searchqa ask` says in one line when the search fell back to a later engine."""

from __future__ import annotations

from searchqa.events import DoneEvent
from tests.e2e.conftest import World, events_of

QUESTION = "How does searchqa choose its prompt template?"


def test_a_fallback_gets_a_one_line_note_naming_the_engine_and_the_failure(world: World) -> None:
    world.searx.status = 502  # the local index (seeded with the docs on first use) serves
    env = world.env(SEARCHQA_SEARCH__ENGINES="searxng,local")

    result = world.run("ask", QUESTION, env=env)

    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stdout.splitlines() if line.startswith("Search degraded")]
    assert notes == ["Search degraded, results from local (searxng: searxng answered HTTP 502)"]


def test_no_note_when_the_first_engine_serves(world: World) -> None:
    result = world.run("ask", QUESTION)

    assert result.returncode == 0, result.stderr
    assert "Search degraded" not in result.stdout


def test_json_output_carries_the_search_report(world: World) -> None:
    world.searx.status = 502
    env = world.env(SEARCHQA_SEARCH__ENGINES="searxng,local")

    result = world.run("ask", "--json", QUESTION, env=env)

    done = events_of(result.stdout)[-1]
    assert isinstance(done, DoneEvent)
    assert "search_degraded" in done.flags
    assert done.search is not None
    assert (done.search.query, done.search.engine) == (QUESTION, "local")
    assert [f.engine for f in done.search.failed] == ["searxng"]
