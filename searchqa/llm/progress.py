"""Deadlines on a streamed reply that count tokens, not bytes.

A server that keeps the connection alive (``: ping`` comments, chunks with empty deltas) but
sends no tokens never trips a socket read timeout. ``ProgressWatch`` checks, each time bytes
arrive, how long ago the last token came (``idle_s``, ``SEARCHQA_LLM__READ_TIMEOUT_S``) and how
long the whole reply has taken (``total_s``, ``SEARCHQA_LLM__TOTAL_TIMEOUT_S``). A server silent
altogether is stopped by the socket's own read timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from searchqa.errors import LLMError


class ProgressWatch:
    """Raises LLMError once the reply stalls or runs past its total time."""

    def __init__(
        self,
        *,
        idle_s: float,
        total_s: float,
        server: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._idle_s = idle_s
        self._total_s = total_s
        self._server = server
        self._clock = clock
        self._started = self._last_token = clock()

    def progressed(self) -> None:
        """A token (reasoning or answer text) arrived."""
        self._last_token = self._clock()

    def check(self) -> None:
        now = self._clock()
        if now - self._started >= self._total_s:
            raise LLMError(
                f"the model server at {self._server} was still replying after "
                f"{self._total_s:g} s (SEARCHQA_LLM__TOTAL_TIMEOUT_S)",
                code="llm_total_timeout",
            )
        if now - self._last_token >= self._idle_s:
            raise LLMError(
                f"the model server at {self._server} kept the connection alive but sent no "
                f"tokens for {self._idle_s:g} s (SEARCHQA_LLM__READ_TIMEOUT_S)",
                code="llm_read_timeout",
            )
