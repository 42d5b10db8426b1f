"""Shutdown steps: each is awaited, and one that hangs is abandoned by name."""

from __future__ import annotations

import asyncio
import logging

import pytest

from searchqa.api.app import close_step


async def test_a_step_that_finishes_is_awaited(caplog: pytest.LogCaptureFixture) -> None:
    closed: list[str] = []

    async def close() -> None:
        await asyncio.sleep(0.01)
        closed.append("pool")

    await close_step("pool", close(), within_s=5)
    assert closed == ["pool"]
    assert not caplog.records


async def test_a_hanging_step_is_left_behind_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    never = asyncio.Event()
    loop = asyncio.get_running_loop()
    started = loop.time()
    with caplog.at_level(logging.WARNING, logger="searchqa.api.app"):
        await close_step("shared state", never.wait(), within_s=0.2)
    assert 0.2 <= loop.time() - started < 2
    [record] = caplog.records
    assert "closing the shared state took over 0.2 s" in record.getMessage()
