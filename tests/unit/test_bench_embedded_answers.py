"""How the embedded-model comparison judges an answer and reads its candidates (no model run)."""

from __future__ import annotations

from pathlib import Path

from bench.embedded_answers import Question, candidates, judge, load_questions
from searchqa.llm.embedded import CHATML, GEMMA
from searchqa.steps.language import detect_language

ROOT = Path(__file__).resolve().parents[2]
PORT = Question("What port does searchqa serve listen on?", ("8000",), ("README.md",))
PORT_ZH = Question("searchqa serve 默认监听哪个端口？", ("8000",), ("README.md",))


def test_a_right_answer_in_the_right_language_citing_the_right_document() -> None:
    assert judge(PORT, "It listens on port 8000 [1].", ["file:///srv/searchqa/README.md"]) == (
        True,
        True,
        True,
    )
    assert judge(PORT_ZH, "默认监听 8000 端口。", []) == (True, False, True)
    assert judge(PORT_ZH, "It listens on port 8000.", []) == (True, False, False)


def test_a_copied_prompt_gets_no_credit_for_the_fact_it_copied() -> None:
    echo = "# The following contents are the search results [webpage 1 begin] ... 8000"
    assert judge(PORT, echo, [])[0] is False


def test_candidates_name_the_model_window_and_page_budget() -> None:
    smol, gemma = candidates("smollm2@3072/384,gemma3@1536")
    assert (smol.chat_format, smol.context_tokens, smol.page_tokens) == (CHATML, 3072, 384)
    assert (gemma.chat_format, gemma.context_tokens, gemma.page_tokens) == (GEMMA, 1536, None)
    assert "Apache" in smol.licence
    assert "Gemma" in gemma.licence


def test_the_question_set_is_grounded_and_bilingual() -> None:
    questions = load_questions()
    assert len(questions) >= 30
    languages = [detect_language(q.question) for q in questions]
    assert languages.count("zh") >= 10
    assert languages.count("en") >= 10
    for question in questions:  # each key fact is written in one of its documents
        texts = [(ROOT / source).read_text(encoding="utf-8").lower() for source in question.sources]
        assert any(fact.lower() in text for fact in question.facts for text in texts), question
