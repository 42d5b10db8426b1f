"""The embedding API: what ``import searchqa`` promises."""

from __future__ import annotations

import typing
from typing import cast

import pytest

import searchqa
from searchqa.events import Event


def test_every_exported_name_exists_and_nothing_else_is_promised() -> None:
    assert sorted(searchqa.__all__) == sorted(set(searchqa.__all__))
    for name in searchqa.__all__:
        assert hasattr(searchqa, name), name
    namespace: dict[str, object] = {}
    exec("from searchqa import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(searchqa.__all__)


def test_every_event_type_of_the_stream_is_exported() -> None:
    union = typing.get_args(Event)[0]
    members = typing.get_args(union)
    assert len(members) == 8
    for member in members:
        assert getattr(searchqa, member.__name__) is member


@pytest.mark.parametrize(
    ("question", "code"),
    [("", "empty_query"), ("   ", "empty_query"), ("x" * 2001, "query_too_long")],
)
def test_answer_refuses_bad_input_when_called_before_any_work(question: str, code: str) -> None:
    unused_kit = cast(searchqa.AnswerKit, None)  # never reached: validation comes first
    with pytest.raises(searchqa.InvalidRequestError) as refused:
        searchqa.answer(question, kit=unused_kit)
    assert refused.value.code == code
    with pytest.raises(searchqa.InvalidRequestError):
        searchqa.answer_file(
            question, file_name="a.txt", file_content="text", file_url="", kit=unused_kit
        )
