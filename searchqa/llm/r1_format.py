"""DeepSeek-R1's chat format, rendered by hand for servers reached through /v1/completions.

One user turn, no system prompt, and the reply opened with ``<think>\\n`` as R1's own chat
template does, so the model always thinks first. The special tokens are spelled exactly as in
R1's tokenizer (fullwidth bars U+FF5C, lower one-eighth blocks U+2581).
"""

from __future__ import annotations

from collections.abc import Sequence

from searchqa.llm.think import THINK_OPEN
from searchqa.protocols import Turn

BEGIN_OF_SENTENCE = "<｜begin▁of▁sentence｜>"
USER = "<｜User｜>"
ASSISTANT = "<｜Assistant｜>"


END_OF_SENTENCE = "<｜end▁of▁sentence｜>"


def render_r1_prompt(prompt: str, history: Sequence[Turn] = ()) -> str:
    """The raw prompt text after earlier turns, ending where R1's reasoning begins."""
    turns = "".join(
        f"{USER}{turn.content}"
        if turn.role == "user"
        else f"{ASSISTANT}{turn.content}{END_OF_SENTENCE}"
        for turn in history
    )
    return f"{BEGIN_OF_SENTENCE}{turns}{USER}{prompt}{ASSISTANT}{THINK_OPEN}\n"
