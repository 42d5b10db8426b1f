"""The JSON depth scanner: brackets in strings and escapes never count; pieces split anywhere."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from searchqa.api.json_depth import DepthScanner
from searchqa.errors import InvalidRequestError


def _scan(text: str, *, max_depth: int, pieces: int = 1) -> None:
    data = text.encode()
    scanner = DepthScanner(max_depth)
    size = max(1, len(data) // pieces)
    for start in range(0, len(data), size):
        scanner.feed(data[start : start + size])


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(item) for item in value.values()), default=0)
    return 0


def test_nesting_past_the_limit_is_refused_at_once() -> None:
    with pytest.raises(InvalidRequestError) as refused:
        _scan("[" * 65, max_depth=64)
    assert refused.value.code == "json_too_deep"
    _scan("[" * 64 + "]" * 64, max_depth=64)


def test_brackets_inside_strings_and_escaped_quotes_do_not_count() -> None:
    text = json.dumps({"a": '[[[[[[\\"[[[[' * 50, "b": ['"]]]{{{', "\\\\"]})
    _scan(text, max_depth=3)


@given(
    st.recursive(
        st.text(alphabet='[]{}"\\ab', max_size=8) | st.integers(),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.text(alphabet='[]{}"\\', max_size=4), inner, max_size=3)
        ),
        max_leaves=20,
    ),
    st.integers(min_value=1, max_value=7),
)
def test_split_anywhere_it_agrees_with_the_real_depth(value: object, pieces: int) -> None:
    text = json.dumps(value)
    depth = _depth(value)
    _scan(text, max_depth=depth, pieces=pieces)
    if depth:
        with pytest.raises(InvalidRequestError):
            _scan(text, max_depth=depth - 1, pieces=pieces)
