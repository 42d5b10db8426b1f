"""The rule that makes a follow-up standalone: pronouns, ellipsis, swaps, and topic shifts."""

from __future__ import annotations

import pytest

from searchqa.protocols import BriefReply, Turn
from searchqa.steps.followup import rule_rewrite, topic_terms
from searchqa.steps.rewrite import build_rewrite_prompt, usable_rewrite


def asked(*questions: str) -> list[Turn]:
    turns: list[Turn] = []
    for question in questions:
        turns += [Turn("user", question), Turn("assistant", "An answer about Memcached.")]
    return turns


@pytest.mark.parametrize(
    ("earlier", "follow_up", "standalone"),
    [
        (["What is Redis?"], "who created it?", "who created Redis?"),
        (["what is redis"], "who made it", "who made redis"),
        (["Does Python have a GIL?"], "when was it added?", "when was Python GIL added?"),
        (["What is Rust?"], "Is it faster than Go?", "Is Rust faster than Go?"),
        (["What is Redis?"], "license?", "Redis license?"),
        (["What is Redis?", "who created it?"], "when?", "Redis when?"),
        (["Who created Redis?"], "What about Memcached?", "Who created Memcached?"),
        (["Does Python have a GIL?"], "what about Ruby?", "Does Ruby have a GIL?"),
        (["Who is the CEO of Apple?"], "what about Microsoft?", "Who is the CEO of Microsoft?"),
        (["Redis 是什么？"], "它是谁开发的？", "Redis是谁开发的？"),
        (["Python 的 GIL 是什么"], "那 Ruby 呢？", "Ruby 的 GIL 是什么"),
        (["长城有多长"], "什么时候建的？", "长城什么时候建的？"),
        (["红烧肉怎么做"], "需要多久？", "红烧肉需要多久？"),
        (["北京烤鸭哪家好吃"], "价格呢", "北京烤鸭价格呢"),
    ],
)
def test_a_follow_up_gets_the_topic_it_refers_to(
    earlier: list[str], follow_up: str, standalone: str
) -> None:
    assert rule_rewrite(follow_up, asked(*earlier)) == standalone


@pytest.mark.parametrize(
    ("earlier", "follow_up"),
    [
        ("What is Redis?", "How tall is Mount Everest?"),
        ("What is Redis?", "Who won the 2022 World Cup?"),
        ("What is Redis?", "best pizza recipe with fresh basil"),
        ("长城有多长", "珠穆朗玛峰有多高？"),
        ("Redis 是什么？", "红烧肉怎么做"),
    ],
)
def test_a_change_of_topic_is_left_as_asked(earlier: str, follow_up: str) -> None:
    assert rule_rewrite(follow_up, asked(earlier)) == follow_up


def test_without_earlier_questions_nothing_changes() -> None:
    assert rule_rewrite("who created it?", []) == "who created it?"
    assert rule_rewrite("who created it?", [Turn("assistant", "Hello!")]) == "who created it?"


def test_the_topic_is_the_latest_question_that_names_something() -> None:
    assert topic_terms(["What is Redis?", "who created it?"]) == ["Redis"]
    assert topic_terms(['Tell me about the "event loop" in Node']) == ["event loop", "Node"]
    assert topic_terms(["how do vaccines work"]) == ["vaccines", "work"]


def test_the_rewrite_prompt_holds_the_latest_turns_one_line_each() -> None:
    history = [Turn("user", f"question {n}\nsecond line") for n in range(10)]
    prompt = build_rewrite_prompt("and then?", history)
    assert "User: question 3" not in prompt
    assert "User: question 4 second line" in prompt
    assert prompt.endswith("User: and then?\n\nSearch query:")
    long = build_rewrite_prompt("x", [Turn("assistant", "word " * 500)])
    [said] = [line for line in long.splitlines() if line.startswith("Assistant: ")]
    assert len(said) == len("Assistant: ") + 300
    assert said.endswith("…")


@pytest.mark.parametrize(
    ("text", "cut_off", "query"),
    [
        ("Who created Redis", False, "Who created Redis"),
        ('  "Who created Redis"  ', False, "Who created Redis"),
        ("Search query: Redis creator", False, "Redis creator"),
        ("搜索词：Redis 作者", False, "Redis 作者"),
        ("Redis creator\nBecause the user asks...", False, "Redis creator"),
        ("", False, None),
        ("  \n ", False, None),
        ("Redis Redis Redis", True, None),
        ("</think> Redis", False, None),
        ("x" * 400, False, None),
    ],
)
def test_a_usable_rewrite_is_one_clean_line(text: str, cut_off: bool, query: str | None) -> None:
    assert usable_rewrite(BriefReply(text=text, cut_off=cut_off)) == query
