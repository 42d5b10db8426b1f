"""Split DeepSeek-R1's raw output into reasoning and answer as it streams.

R1 writes its thinking first and closes it with ``</think>``; the opening ``<think>`` is
usually part of the prompt (the chat template writes it), so the stream starts inside the
reasoning. Everything before the first ``</think>`` is reasoning, everything after it is
the answer. A reply that never closes its thinking is all reasoning, as SGLang's own
``deepseek-r1`` reasoning parser treats it.
"""

from __future__ import annotations

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"


def _partial_suffix_len(text: str, tag: str) -> int:
    """Length of the longest end of ``text`` that is a proper start of ``tag``."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


class ThinkSplitter:
    """Incremental reasoning/answer splitter that tolerates tags split at any character.

    ``feed`` returns ``(reasoning, answer)`` text that is final; it holds back only what
    could still become a tag: a proper start of ``<think>`` at the very beginning of the
    stream, or of ``</think>`` at the end of the reasoning seen so far.
    """

    def __init__(self) -> None:
        self._held = ""
        self._in_reasoning = True
        self._at_start = True

    def feed(self, text: str) -> tuple[str, str]:
        """Take the next piece of raw output; return the reasoning and answer it settles."""
        if not self._in_reasoning:
            return "", text
        buffer = self._held + text
        self._held = ""
        if self._at_start:
            if THINK_OPEN.startswith(buffer):
                self._held = buffer
                return "", ""
            self._at_start = False
            if buffer.startswith(THINK_OPEN):
                buffer = buffer[len(THINK_OPEN) :]
        end = buffer.find(THINK_CLOSE)
        if end >= 0:
            self._in_reasoning = False
            return buffer[:end], buffer[end + len(THINK_CLOSE) :]
        keep = _partial_suffix_len(buffer, THINK_CLOSE)
        if keep:
            self._held = buffer[-keep:]
            buffer = buffer[:-keep]
        return buffer, ""

    def flush(self) -> tuple[str, str]:
        """End of stream: text held back was never a tag, so it is reasoning."""
        held, self._held = self._held, ""
        return held, ""


def split_think(text: str) -> tuple[str, str]:
    """Split a whole reply at once; the same result as feeding it in any pieces."""
    splitter = ThinkSplitter()
    reasoning, answer = splitter.feed(text)
    rest_reasoning, rest_answer = splitter.flush()
    return reasoning + rest_reasoning, answer + rest_answer
