"""The ``searchqa`` command against real local servers: web, SearXNG and SGLang fakes."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from searchqa.events import (
    AnswerEvent,
    CitationEvent,
    DoneEvent,
    ErrorEvent,
    MetaEvent,
    ReasoningEvent,
    SourcesEvent,
    StatusEvent,
)
from searchqa.steps.prompt import format_date, load_template
from tests.e2e.conftest import World, events_of
from tests.fakes.searxng import searx_result

ORDER = re.compile(r"^M(S)*R(S|T)*(S|A|C)*(D|E)$")
LETTER = {
    MetaEvent: "M",
    StatusEvent: "S",
    SourcesEvent: "R",
    ReasoningEvent: "T",
    AnswerEvent: "A",
    CitationEvent: "C",
    DoneEvent: "D",
    ErrorEvent: "E",
}


def test_ask_json_streams_the_contract_in_order(world: World) -> None:
    result = world.run("ask", "--json", "How do community gardens cool cities?")
    assert result.returncode == 0, result.stderr
    events = events_of(result.stdout)
    assert ORDER.match("".join(LETTER[type(e)] for e in events))

    meta = events[0]
    assert isinstance(meta, MetaEvent)
    assert (meta.language, meta.template, meta.model) == ("en", "en", "deepseek-ai/DeepSeek-R1")
    assert meta.date == format_date(datetime.now(UTC).date(), "en")

    (sources,) = [e for e in events if isinstance(e, SourcesEvent)]
    assert [s.url for s in sources.sources] == [world.page("english"), world.page("docs")]
    assert sources.sources[0].title == "How Community Gardens Are Cooling City Blocks"

    answer = "".join(e.text for e in events if isinstance(e, AnswerEvent))
    assert answer == "The capital of France is Paris [1][2]."
    citations = [e for e in events if isinstance(e, CitationEvent)]
    assert [(c.index, c.url) for c in citations] == [(1, world.page("english")),
                                                     (2, world.page("docs"))]  # fmt: skip
    assert [answer[c.offset : c.offset + 3] for c in citations] == ["[1]", "[2]"]

    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert done.answer == answer
    assert done.cited == [1, 2]
    assert done.reasoning.startswith("Okay, the user asks")
    assert done.usage.completion_tokens > 0
    assert done.timings.first_answer_ms is not None
    assert done.timings.total_ms >= done.timings.first_answer_ms


def test_model_gets_exactly_the_prompt_with_deepseeks_settings(world: World) -> None:
    question = "How do community gardens cool cities?"
    # Both runs must read the same pages: the world's deadline is one no loaded machine misses.
    env = world.env()
    printed = world.run("prompt", question, env=env)
    assert printed.returncode == 0, printed.stderr
    asked = world.run("ask", "--json", question, env=env)
    assert asked.returncode == 0, asked.stderr

    (request,) = [r for r in world.llm.requests if r.path.endswith("/chat/completions")]
    body = request.body
    assert body["messages"] == [{"role": "user", "content": printed.stdout.removesuffix("\n")}]
    assert (body["temperature"], body["top_p"], body["stream"]) == (0.6, 0.95, True)
    assert body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 32768


def test_prompt_prints_the_filled_english_template_and_nothing_else(world: World) -> None:
    result = world.run("prompt", "How do community gardens cool cities?")
    assert result.returncode == 0, result.stderr
    prompt = result.stdout.removesuffix("\n")
    assert not prompt.endswith("\n")
    head, tail = load_template("search_answer_en.txt").split("{search_results}")
    assert prompt.startswith(head + "[webpage 1 begin]\nTitle: How Community Gardens")
    assert f"\nURL: {world.page('english')}\n" in prompt
    assert "[webpage 1 end]\n[webpage 2 begin]\nTitle: Cache-Control explained\n" in prompt
    today = format_date(datetime.now(UTC).date(), "en")
    question = "How do community gardens cool cities?"
    filled_tail = tail.replace("{cur_date}", today).replace("{question}", question)
    assert prompt.endswith("[webpage 2 end]" + filled_tail)
    assert "Subscribe" not in prompt  # page boilerplate stays out


def test_chinese_question_gets_the_zh_template_and_date(world: World) -> None:
    world.searx.results = [searx_result(world.page("chinese"), "高铁", "游客翻了一番")]
    result = world.run("prompt", "高铁开通后游客增加了多少")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# 以下内容是基于用户发送的消息的搜索结果:\n[webpage 1 begin]")
    assert f"- 今天是{format_date(datetime.now(UTC).date(), 'zh')}。" in result.stdout
    assert result.stdout.endswith("# 用户消息为：\n高铁开通后游客增加了多少\n")


def test_terminal_output_shows_answer_and_sources_but_not_reasoning(world: World) -> None:
    result = world.run("ask", "How do community gardens cool cities?")
    assert result.returncode == 0, result.stderr
    assert "The capital of France is Paris [1][2]." in result.stdout
    assert "Sources" in result.stdout
    assert world.page("docs") in result.stdout
    assert "Okay, the user asks" not in result.stdout
    shown = world.run("ask", "--reasoning", "How do community gardens cool cities?")
    assert "Okay, the user asks" in shown.stdout


def test_question_from_stdin(world: World) -> None:
    result = world.run("ask", "--json", "-", stdin="What is Cache-Control?\n")
    meta = events_of(result.stdout)[0]
    assert isinstance(meta, MetaEvent)
    assert meta.query == "What is Cache-Control?"


def test_failed_pages_are_skipped_and_snippets_stand_in_when_all_fail(world: World) -> None:
    world.searx.results = [
        searx_result(f"{world.web.url}/hang", "Hangs", "hang snippet"),
        searx_result(f"{world.web.url}/status/500", "Broken", "broken snippet", position=2),
        searx_result(world.page("docs"), "Docs", "docs snippet", position=3),
    ]
    env = world.env(SEARCHQA_FETCH__DEADLINE_S="3", SEARCHQA_FETCH__PAGE_TIMEOUT_S="2")
    result = world.run("ask", "--json", "What is Cache-Control?", env=env)
    events = events_of(result.stdout)
    (sources,) = [e for e in events if isinstance(e, SourcesEvent)]
    assert [s.url for s in sources.sources] == [world.page("docs")]
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert "snippets_only" not in done.flags

    world.searx.results = world.searx.results[:2]
    result = world.run("ask", "--json", "What is Cache-Control?", env=env)
    events = events_of(result.stdout)
    (sources,) = [e for e in events if isinstance(e, SourcesEvent)]
    assert [s.snippet for s in sources.sources] == ["hang snippet", "broken snippet"]
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert "snippets_only" in done.flags


def test_no_search_results_still_answers_flagged(world: World) -> None:
    world.searx.results = []
    result = world.run("ask", "--json", "Anything at all?")
    done = events_of(result.stdout)[-1]
    assert isinstance(done, DoneEvent)
    assert done.flags == ["no_sources"]


def test_exit_codes(world: World) -> None:
    assert world.run("ask", "   ").returncode == 2
    assert world.run("ask", "x" * 2001).returncode == 2
    bad_setting = world.run("ask", "hi", env=world.env(SEARCHQA_LLM__TEMPERATURE="1.5"))
    assert bad_setting.returncode == 2
    assert "temperature" in bad_setting.stderr

    down = world.run("ask", "hi", env=world.env(SEARCHQA_LLM__BASE_URL="http://127.0.0.1:9/v1"))
    assert down.returncode == 3
    assert len(down.stderr.strip().splitlines()) == 1
    assert "Traceback" not in down.stderr
    debug = world.run(
        "--debug", "ask", "hi", env=world.env(SEARCHQA_LLM__BASE_URL="http://127.0.0.1:9/v1")
    )
    assert debug.returncode == 3
    assert "Traceback" in debug.stderr

    world.searx.status = 500
    search_down = world.run("ask", "--json", "hi")
    assert search_down.returncode == 3
    last = events_of(search_down.stdout)[-1]
    assert isinstance(last, ErrorEvent)
    assert last.service == "search"


def test_model_error_mid_stream_ends_with_an_error_event(world: World) -> None:
    world.llm.error_after_chunks = 3
    result = world.run("ask", "--json", "How do community gardens cool cities?")
    assert result.returncode == 3
    last = events_of(result.stdout)[-1]
    assert isinstance(last, ErrorEvent)
    assert last.service == "llm"
    assert last.retryable
    assert "overloaded" in last.message
    assert "overloaded" in result.stderr


def test_ask_about_a_file_uses_the_file_template(world: World, tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("# Launch notes\n\nThe launch moved to March 3.\n", encoding="utf-8")
    result = world.run("ask", "--json", "--file", str(notes), "When is the launch?")
    assert result.returncode == 0, result.stderr
    events = events_of(result.stdout)
    meta = events[0]
    assert isinstance(meta, MetaEvent)
    assert meta.template == "file"
    (sources,) = [e for e in events if isinstance(e, SourcesEvent)]
    assert [s.url for s in sources.sources] == [notes.resolve().as_uri()]
    prompt = world.llm.requests[-1].body["messages"][0]["content"]
    assert prompt == (
        "[file name]: notes.md\n[file content begin]\n# Launch notes\n\n"
        "The launch moved to March 3.\n[file content end]\nWhen is the launch?"
    )


def test_extract_prints_main_text_uncapped_and_meta_on_request(world: World) -> None:
    result = world.run("extract", world.page("english"))
    assert result.returncode == 0, result.stderr
    assert "community garden" in result.stdout.lower()
    assert not result.stdout.startswith("Title:")
    meta = world.run("extract", "--meta", world.page("english"))
    assert meta.stdout.startswith("Title: How Community Gardens Are Cooling City Blocks\n")
    assert meta.stdout.endswith(result.stdout)

    blocked = world.run(
        "extract", world.page("english"), env=world.env(SEARCHQA_FETCH__ALLOW_HOSTS="")
    )
    assert blocked.returncode == 2
    assert "127.0.0.1" in blocked.stderr
    missing = world.run("extract", f"{world.web.url}/status/404")
    assert missing.returncode == 3


def test_extract_a_local_file(world: World, tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        "<html><head><title>Local page</title></head><body><nav>Home | About</nav><article>"
        + "".join(f"<p>Paragraph {i} explains the local page in detail.</p>" for i in range(6))
        + "</article></body></html>",
        encoding="utf-8",
    )
    result = world.run("extract", "--meta", str(page))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Title: Local page\n")
    assert "Paragraph 5 explains" in result.stdout
    assert "Home | About" not in result.stdout
    assert world.run("extract", str(tmp_path / "nope.html")).returncode == 2


def test_json_lines_are_flat_objects(world: World) -> None:
    result = world.run("ask", "--json", "How do community gardens cool cities?")
    for line in result.stdout.splitlines():
        obj = json.loads(line)
        assert isinstance(obj, dict)
        assert isinstance(obj["type"], str)


def test_index_then_ask_the_local_engine(world: World, tmp_path: Path) -> None:
    docs = tmp_path / "handbook"
    docs.mkdir()
    (docs / "leave.md").write_text("# Leave policy\n\nStaff get 30 days of paid leave.\n")
    (docs / "天气.md").write_text("# 北京天气\n\n北京今天天气晴朗，气温二十度。\n")
    env = world.env(
        SEARCHQA_SEARCH__ENGINES="local", SEARCHQA_INDEX__PATH=str(tmp_path / "index.db")
    )
    indexed = world.run("index", str(docs), env=env)
    assert indexed.returncode == 0, indexed.stderr
    assert indexed.stdout.startswith("2 added, 0 updated, 0 unchanged, 0 removed, 0 failed")

    asked = world.run("ask", "--json", "How many days of paid leave?", env=env)
    (sources,) = [e for e in events_of(asked.stdout) if isinstance(e, SourcesEvent)]
    assert [s.url for s in sources.sources] == [(docs / "leave.md").as_uri()]
    prompt = world.llm.requests[-1].body["messages"][0]["content"]
    assert "Staff get 30 days of paid leave." in prompt

    zh = world.run("prompt", "北京天气怎么样", env=env)
    assert "北京今天天气晴朗" in zh.stdout

    (docs / "leave.md").unlink()
    again = world.run("index", str(docs), env=env)
    assert again.stdout.startswith("0 added, 0 updated, 1 unchanged, 1 removed, 0 failed")
    missing = world.run("index", str(tmp_path / "nowhere"), env=env)
    assert missing.returncode == 2  # bad input: no source could be read
    assert "failed" in missing.stdout
