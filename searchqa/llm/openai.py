"""The streaming client for OpenAI-compatible model servers, SGLang first.

One user message, never a system prompt, DeepSeek's sampling (temperature and top_p from
settings). Every httpx failure is translated here into an LLMError with its own ``code``.
Stop consuming the stream (``aclose()`` on it, or cancel the task) and the HTTP response is
closed at once, so the server sees the disconnect and aborts the generation.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from typing import Any

import httpx

from searchqa.errors import LLMError
from searchqa.llm.progress import ProgressWatch
from searchqa.llm.r1_format import render_r1_prompt
from searchqa.llm.readiness import MODELS_PATH, READY_PATH, Readiness, has_no_ready_route, ready_url
from searchqa.llm.sse import ReplyDecoder, classify_error, error_details, iter_sse_data
from searchqa.protocols import ModelDelta, ModelInfo, Turn
from searchqa.settings import LLMSettings


class OpenAIChatModel:
    """A ChatModel served over /v1/chat/completions, or /v1/completions with ``raw_prompt``."""

    def __init__(self, settings: LLMSettings, *, client: httpx.AsyncClient | None = None) -> None:
        if not settings.base_url:
            raise LLMError(
                "no model server is configured (SEARCHQA_LLM__BASE_URL)",
                code="llm_not_configured",
                retryable=False,
            )
        self._settings = settings
        self._base_url = settings.base_url.rstrip("/")
        self._timeout = httpx.Timeout(
            connect=settings.connect_timeout_s,
            read=min(settings.read_timeout_s, settings.total_timeout_s),
            write=settings.read_timeout_s,
            pool=settings.connect_timeout_s,
        )
        self._owns_client = client is None
        # No cap on connections: each is one streamed answer, and SGLang queues them itself.
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=32)
        self._client = client or httpx.AsyncClient(timeout=self._timeout, limits=limits)
        self._info: ModelInfo | None = None
        self._ready_url = ready_url(self._base_url)

    async def describe(self) -> ModelInfo:
        """The model id (settings, else the first listed) and its context window."""
        if self._info is None:
            self._info = await self._fetch_info()
        return self._info

    async def stream(
        self,
        prompt: str,
        *,
        max_tokens: int,
        history: Sequence[Turn] = (),
        temperature: float | None = None,
    ) -> AsyncGenerator[ModelDelta, None]:
        """Stream a reply to ``prompt`` after ``history``: reasoning, answer, then usage."""
        settings = self._settings
        model = settings.model or (await self.describe()).id
        body: dict[str, Any] = {"model": model}
        if settings.raw_prompt:
            path = "/completions"
            body["prompt"] = render_r1_prompt(prompt, history)
        else:
            path = "/chat/completions"
            body["messages"] = [
                *({"role": turn.role, "content": turn.content} for turn in history),
                {"role": "user", "content": prompt},
            ]
        body |= {
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": max_tokens,
            "temperature": settings.temperature if temperature is None else temperature,
            "top_p": settings.top_p,
        }
        decoder = ReplyDecoder(text_completion=settings.raw_prompt)
        headers = self._headers() | {"Accept": "text/event-stream"}
        watch = ProgressWatch(
            idle_s=settings.read_timeout_s, total_s=settings.total_timeout_s, server=self._base_url
        )
        try:
            async with self._client.stream(
                "POST", self._base_url + path, json=body, headers=headers, timeout=self._timeout
            ) as response:
                await _raise_for_response(response)
                chunks = watch.watched(response.aiter_bytes())
                async with aclosing(iter_sse_data(chunks)) as payloads:
                    async for payload in payloads:
                        for delta in decoder.decode(payload):
                            if delta.reasoning or delta.content:
                                watch.progressed()
                            yield delta
                        if decoder.done:
                            break
                for delta in decoder.finish():
                    yield delta
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise self._transport_error(exc) from exc

    async def readiness(self) -> Readiness:
        """Ask the server now: SGLang's ``/ready``, else (no such route) its model list."""
        if self._ready_url is not None:
            try:
                response = await self._client.get(
                    self._ready_url, headers=self._headers(), timeout=self._timeout
                )
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                detail = self._transport_error(exc).message
                return Readiness(ok=False, probe=READY_PATH, detail=detail)
            if response.is_success:
                return Readiness(ok=True, probe=READY_PATH)
            if not has_no_ready_route(response.status_code):
                return Readiness(
                    ok=False,
                    probe=READY_PATH,
                    detail=f"the model server at {self._base_url} is not ready "
                    f"({READY_PATH} answered HTTP {response.status_code}: starting, paused "
                    "or unhealthy)",
                )
            self._ready_url = None  # this server has no /ready: list its models from now on
        try:
            await self._fetch_info()
        except LLMError as exc:
            return Readiness(ok=False, probe=MODELS_PATH, detail=exc.message)
        return Readiness(ok=True, probe=MODELS_PATH)

    async def aclose(self) -> None:
        """Close the HTTP client if this model created it."""
        if self._owns_client:
            await self._client.aclose()

    async def _fetch_info(self) -> ModelInfo:
        url = self._base_url + "/models"
        try:
            response = await self._client.get(url, headers=self._headers(), timeout=self._timeout)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise self._transport_error(exc) from exc
        if response.status_code >= 400:
            raise _status_error(response.status_code, response.text)
        try:
            listing = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise LLMError(
                f"{url} did not answer JSON: {response.text[:200]!r}", code="llm_bad_response"
            ) from exc
        entries = listing.get("data") if isinstance(listing, dict) else None
        if not isinstance(entries, list):
            raise LLMError(f"{url} answered no model list", code="llm_bad_response")
        models = [entry for entry in entries if isinstance(entry, dict) and entry.get("id")]
        if not models and not self._settings.model:
            raise LLMError(f"{url} lists no models", code="llm_no_models", retryable=False)
        wanted = self._settings.model or str(models[0]["id"])
        entry = next((model for model in models if model.get("id") == wanted), {})
        reported = entry.get("max_model_len")
        if isinstance(reported, int) and not isinstance(reported, bool) and reported > 0:
            return ModelInfo(id=wanted, context_length=reported)
        return ModelInfo(id=wanted, context_length=self._settings.context_length)

    def _headers(self) -> dict[str, str]:
        api_key = self._settings.api_key
        if api_key is None or not api_key.get_secret_value():
            return {}
        return {"Authorization": f"Bearer {api_key.get_secret_value()}"}

    def _transport_error(self, exc: httpx.HTTPError | httpx.InvalidURL) -> LLMError:
        base, settings = self._base_url, self._settings
        if isinstance(exc, httpx.ConnectTimeout):
            return LLMError(
                f"no connection to the model server at {base} "
                f"within {settings.connect_timeout_s:g} s",
                code="llm_connect_timeout",
            )
        if isinstance(exc, httpx.ReadTimeout):
            silence = min(settings.read_timeout_s, settings.total_timeout_s)
            return LLMError(
                f"the model server at {base} sent nothing for {silence:g} s",
                code="llm_read_timeout",
            )
        if isinstance(exc, httpx.TimeoutException):
            return LLMError(f"the model server at {base} timed out: {exc!r}", code="llm_timeout")
        if isinstance(exc, httpx.ConnectError):
            return LLMError(
                f"cannot connect to the model server at {base}: {exc}", code="llm_unreachable"
            )
        if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
            return LLMError(
                f"the model server at {base} dropped the connection mid-reply: {exc!r}",
                code="llm_connection_lost",
            )
        return LLMError(f"request to the model server at {base} failed: {exc!r}")


def _status_error(status: int, text: str) -> LLMError:
    try:
        body: object = json.loads(text)
    except json.JSONDecodeError:
        body = text
    message, code = error_details(body)
    return classify_error(message, status=status, code=code)


async def _raise_for_response(response: httpx.Response) -> None:
    """Raise for an HTTP error, or for a 200 that carries JSON instead of a stream."""
    if response.status_code >= 400:
        await response.aread()
        raise _status_error(response.status_code, response.text)
    content_type = response.headers.get("content-type", "")
    if "json" in content_type and "event-stream" not in content_type:
        await response.aread()
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if isinstance(body, dict) and (body.get("error") or body.get("object") == "error"):
            message, code = error_details(body)
            raise classify_error(message, status=code if isinstance(code, int) else None, code=code)
        raise LLMError(
            f"the model server answered {content_type}, not a stream", code="llm_bad_stream"
        )
