"""DeepSeek-R1's chat format, rendered by hand for servers reached through /v1/completions.

One user turn, no system prompt, and the reply opened with ``<think>\\n`` as R1's own chat
template does, so the model always thinks first. The special tokens are spelled exactly as in
R1's tokenizer (fullwidth bars U+FF5C, lower one-eighth blocks U+2581).
"""

from __future__ import annotations

from searchqa.llm.think import THINK_OPEN

BEGIN_OF_SENTENCE = "<｜begin▁of▁sentence｜>"
USER = "<｜User｜>"
ASSISTANT = "<｜Assistant｜>"


def render_r1_prompt(prompt: str) -> str:
    """The raw prompt text for one user message, ending where R1's reasoning begins."""
    return f"{BEGIN_OF_SENTENCE}{USER}{prompt}{ASSISTANT}{THINK_OPEN}\n"
