"""A chat request becomes one question with its history."""

from __future__ import annotations

from typing import Any

import pytest

from searchqa.api.openai_models import ChatCompletionRequest, strip_reasoning, to_answer_request
from searchqa.errors import InvalidRequestError
from searchqa.service.requests import MAX_HISTORY_TURNS, AnswerRequest, Turn


def request(*messages: dict[str, Any], **fields: Any) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate({"messages": list(messages), **fields})


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def assistant(content: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": content}


@pytest.mark.parametrize(
    ("echoed", "kept"),
    [
        ("<think>\nhmm\n</think>\n\nParis [1].", "Paris [1]."),
        ("hmm, the template opened think\n</think>\nParis.", "Paris."),
        (
            '<details type="reasoning" done="true" duration="3">\n<summary>Thought</summary>\n'
            "> hmm\n</details>\nParis.",
            "Paris.",
        ),
        ("Plain answer with <b>html</b>.", "Plain answer with <b>html</b>."),
    ],
)
def test_echoed_reasoning_is_stripped(echoed: str, kept: str) -> None:
    assert strip_reasoning(echoed) == kept


def test_system_developer_and_tool_messages_are_not_forwarded() -> None:
    mapped = to_answer_request(
        request(
            {"role": "system", "content": "Be a pirate."},
            user("Hi"),
            assistant(None),
            {"role": "tool", "content": "42", "tool_call_id": "t1"},
            {"role": "developer", "content": "Say arr."},
            user("Capital of France?"),
        )
    )
    assert mapped == AnswerRequest(query="Capital of France?", history=[Turn("user", "Hi")])


def test_text_parts_are_joined_and_other_parts_dropped() -> None:
    parts = [
        {"type": "text", "text": "First line"},
        {"type": "image_url", "image_url": {"url": "https://example.org/a.png"}},
        {"type": "text", "text": "second line"},
    ]
    mapped = to_answer_request(request(user(parts), assistant(parts), user(parts)))
    text = "First line\nsecond line"
    assert mapped.query == text
    assert mapped.history == [Turn("user", text), Turn("assistant", text)]


def test_messages_after_the_last_user_message_are_dropped() -> None:
    mapped = to_answer_request(request(user("Q1"), assistant("A1"), user("Q2"), assistant("Pre")))
    assert mapped == AnswerRequest(
        query="Q2", history=[Turn("user", "Q1"), Turn("assistant", "A1")]
    )


def test_long_conversations_keep_the_most_recent_turns() -> None:
    turns = [user(f"q{i}") if i % 2 == 0 else assistant(f"a{i}") for i in range(50)]
    mapped = to_answer_request(request(*turns, user("last")))
    assert len(mapped.history) == MAX_HISTORY_TURNS
    assert mapped.history[-1] == Turn("assistant", "a49")


def test_no_user_message_is_refused() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        to_answer_request(request({"role": "system", "content": "x"}, assistant("y")))
    assert caught.value.code == "no_question"


@pytest.mark.parametrize(("given", "used"), [(0.0, 0.5), (2.0, 0.7), (0.6, 0.6), (None, None)])
def test_temperature_is_clamped_and_unknown_fields_ignored(
    given: float | None, used: float | None
) -> None:
    parsed = request(user("q"), temperature=given, top_k=40, seed=1, model="gpt-4o")
    assert parsed.temperature == used
    assert parsed.model == "gpt-4o"


def test_usage_is_included_only_for_streams_that_ask() -> None:
    assert request(user("q"), stream=True, stream_options={"include_usage": True}).include_usage
    assert not request(user("q"), stream=True).include_usage
    assert not request(user("q"), stream_options={"include_usage": True}).include_usage
