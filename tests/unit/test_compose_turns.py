"""Prompts asked together are composed one after another, first asked first done."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time

from searchqa.steps.compose import compose_in_turn


async def test_prompts_asked_together_are_composed_one_at_a_time_in_order() -> None:
    spans: list[tuple[int, float, float]] = []

    def compose(number: int) -> int:
        started = time.perf_counter()
        time.sleep(0.03)
        spans.append((number, started, time.perf_counter()))
        return number

    results = await asyncio.gather(*(compose_in_turn(compose, number) for number in range(5)))

    assert results == [0, 1, 2, 3, 4]
    assert [number for number, _, _ in spans] == [0, 1, 2, 3, 4]
    for (_, _, ended), (_, started, _) in itertools.pairwise(spans):
        assert started >= ended  # no overlap: the first is ready after one composition


async def test_a_question_gone_while_waiting_is_never_composed() -> None:
    composed: list[str] = []
    release = threading.Event()
    busy = asyncio.ensure_future(compose_in_turn(release.wait, 5))
    gone = asyncio.ensure_future(compose_in_turn(composed.append, "gone"))
    await asyncio.sleep(0.05)

    gone.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await gone
    release.set()
    await busy
    await compose_in_turn(composed.append, "next")

    assert composed == ["next"]


async def test_the_composing_thread_is_not_the_event_loop() -> None:
    loop_thread = threading.get_ident()

    assert await compose_in_turn(threading.get_ident) != loop_thread
