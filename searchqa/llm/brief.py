"""Short replies from DeepSeek-R1 without its long thinking (rewriting a follow-up question).

R1 always thinks first; its chat template opens the reply with ``<think>``. For a reply of a
few words that thinking is all cost, so the prompt is rendered in R1's own format with the
thinking already closed and empty (``<think>\\n\\n</think>\\n\\n``), sent to
``/v1/completions`` (not streamed), with a small ``max_tokens``, stop strings and a short
deadline. Every failure is an LLMError, so the caller can fall back.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import httpx

from searchqa.errors import LLMError
from searchqa.llm.r1_format import ASSISTANT, BEGIN_OF_SENTENCE, USER
from searchqa.llm.think import THINK_CLOSE, THINK_OPEN
from searchqa.protocols import BriefReply
from searchqa.settings import LLMSettings

EMPTY_THINKING = f"{THINK_OPEN}\n\n{THINK_CLOSE}\n\n"


def render_brief_prompt(prompt: str) -> str:
    """One user turn in R1's format, the reply opened after an empty thinking block."""
    return f"{BEGIN_OF_SENTENCE}{USER}{prompt}{ASSISTANT}{EMPTY_THINKING}"


class OpenAIBriefModel:
    """A BriefModel on an OpenAI-compatible server's ``/v1/completions`` (SGLang)."""

    def __init__(self, settings: LLMSettings, *, transport: httpx.AsyncBaseTransport | None = None):
        if not settings.base_url:
            raise LLMError("no model server is configured", code="llm_not_configured")
        self._settings = settings
        self._url = settings.base_url.rstrip("/") + "/completions"
        self._client = httpx.AsyncClient(transport=transport, timeout=settings.connect_timeout_s)
        self._model: str | None = settings.model

    async def reply(
        self,
        prompt: str,
        *,
        max_tokens: int,
        timeout_s: float,
        stop: Sequence[str] = ("\n",),
        model: str | None = None,
    ) -> BriefReply:
        """The model's short reply to ``prompt``; LLMError when it fails or is late."""
        body: dict[str, Any] = {
            "model": model or self._model or "default",
            "prompt": render_brief_prompt(prompt),
            "max_tokens": max_tokens,
            "temperature": 0.0,
            "stop": list(stop),
            "stream": False,
        }
        headers = {}
        if self._settings.api_key is not None and self._settings.api_key.get_secret_value():
            headers["Authorization"] = f"Bearer {self._settings.api_key.get_secret_value()}"
        try:
            async with asyncio.timeout(timeout_s):
                response = await self._client.post(
                    self._url, json=body, headers=headers, timeout=timeout_s
                )
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise LLMError(
                f"the model server gave no short reply within {timeout_s:g} s", code="llm_timeout"
            ) from exc
        except httpx.HTTPError as exc:
            raise LLMError(
                f"cannot reach the model server: {type(exc).__name__}: {exc}",
                code="llm_unreachable",
            ) from exc
        if response.status_code != 200:
            raise LLMError(
                f"the model server answered HTTP {response.status_code}: {response.text[:200]}",
                code="llm_http_error",
            )
        return _parse(response.content)

    async def aclose(self) -> None:
        await self._client.aclose()


def _parse(content: bytes) -> BriefReply:
    try:
        data = json.loads(content)
        choice = data["choices"][0]
        text = choice["text"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise LLMError(
            "the model server's completion has no choices[0].text", code="llm_bad_response"
        ) from exc
    if not isinstance(text, str):
        raise LLMError("the completion's text is not a string", code="llm_bad_response")
    return BriefReply(text=text, cut_off=choice.get("finish_reason") == "length")
