"""Deadlines on a streamed reply count tokens, not keep-alives."""

from __future__ import annotations

import pytest

from searchqa.errors import LLMError
from searchqa.llm.progress import ProgressWatch


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_keep_alives_do_not_reset_the_idle_deadline() -> None:
    clock = Clock()
    watch = ProgressWatch(idle_s=10, total_s=100, server="http://gpu", clock=clock)
    for _ in range(9):  # a ping every second, no token
        clock.now += 1
        watch.check()
    clock.now += 1
    with pytest.raises(LLMError) as stalled:
        watch.check()
    assert stalled.value.code == "llm_read_timeout"
    assert "SEARCHQA_LLM__READ_TIMEOUT_S" in stalled.value.message


def test_tokens_reset_the_idle_deadline_but_not_the_total_one() -> None:
    clock = Clock()
    watch = ProgressWatch(idle_s=10, total_s=30, server="http://gpu", clock=clock)
    for _ in range(29):
        clock.now += 1
        watch.check()
        watch.progressed()
    clock.now += 1
    with pytest.raises(LLMError) as too_long:
        watch.check()
    assert too_long.value.code == "llm_total_timeout"
    assert too_long.value.retryable
