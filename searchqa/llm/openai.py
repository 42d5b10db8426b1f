"""The streaming client for OpenAI-compatible model servers, SGLang first.

One user message, never a system prompt, DeepSeek's sampling (temperature and top_p from
settings). Every transport failure is translated here into an LLMError with its own ``code``.
Stop consuming the stream (``aclose()`` on it, or cancel the task) and the HTTP response is
closed at once, so the server sees the disconnect and aborts the generation.

The HTTP client is aiohttp: it reads a token stream for about half the CPU of httpx per chunk
(its HTTP parser is C), which is what bounds how many streams one worker relays. Tokens that
arrive in the same network read are handed on as one delta.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Sequence
from typing import Any

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

from searchqa.errors import LLMError
from searchqa.llm.progress import ProgressWatch
from searchqa.llm.r1_format import render_r1_prompt
from searchqa.llm.readiness import MODELS_PATH, READY_PATH, Readiness, has_no_ready_route, ready_url
from searchqa.llm.sse import ReplyDecoder, SSEDecoder, classify_error, error_details, merge_deltas
from searchqa.protocols import ModelDelta, ModelInfo, Turn
from searchqa.settings import LLMSettings

_TransportError = (aiohttp.ClientError, asyncio.TimeoutError)


class OpenAIChatModel:
    """A ChatModel served over /v1/chat/completions, or /v1/completions with ``raw_prompt``."""

    def __init__(self, settings: LLMSettings) -> None:
        if not settings.base_url:
            raise LLMError(
                "no model server is configured (SEARCHQA_LLM__BASE_URL)",
                code="llm_not_configured",
                retryable=False,
            )
        self._settings = settings
        self._base_url = settings.base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=settings.connect_timeout_s,
            sock_read=min(settings.read_timeout_s, settings.total_timeout_s),
        )
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None
        self._info: ModelInfo | None = None
        self._ready_url = ready_url(self._base_url)

    def _client(self) -> aiohttp.ClientSession:
        """This event loop's session (made on first use: aiohttp binds it to its loop)."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            # No cap on connections: each is one streamed answer, and SGLang queues them itself.
            connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
            proxy, proxy_auth = env_proxy(self._base_url)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, proxy=proxy, proxy_auth=proxy_auth
            )
            self._session_loop = loop
        return self._session

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
            async with self._client().post(
                self._base_url + path, json=body, headers=headers
            ) as response:
                await _raise_for_response(response)
                frames = SSEDecoder()
                content = response.content
                while not decoder.done:
                    chunk = await content.readany()
                    payloads = frames.feed(chunk) if chunk else frames.close()
                    if chunk:
                        watch.check()
                    deltas, failure = _decode_all(decoder, payloads)
                    for delta in merge_deltas(deltas):
                        if delta.reasoning or delta.content:
                            watch.progressed()
                        yield delta
                    if failure is not None:
                        raise failure  # after the text that came before it
                    if not chunk:
                        break
                for delta in decoder.finish():
                    yield delta
        except _TransportError as exc:
            raise self._transport_error(exc) from exc

    async def readiness(self) -> Readiness:
        """Ask the server now: SGLang's ``/ready``, else (no such route) its model list."""
        if self._ready_url is not None:
            try:
                async with self._client().get(self._ready_url, headers=self._headers()) as response:
                    status = response.status
            except _TransportError as exc:
                detail = self._transport_error(exc).message
                return Readiness(ok=False, probe=READY_PATH, detail=detail)
            if 200 <= status < 300:
                return Readiness(ok=True, probe=READY_PATH)
            if not has_no_ready_route(status):
                return Readiness(
                    ok=False,
                    probe=READY_PATH,
                    detail=f"the model server at {self._base_url} is not ready "
                    f"({READY_PATH} answered HTTP {status}: starting, paused "
                    "or unhealthy)",
                )
            self._ready_url = None  # this server has no /ready: list its models from now on
        try:
            await self._fetch_info()
        except LLMError as exc:
            return Readiness(ok=False, probe=MODELS_PATH, detail=exc.message)
        return Readiness(ok=True, probe=MODELS_PATH)

    async def aclose(self) -> None:
        """Close this model's HTTP session."""
        if self._session is not None and self._session_loop is asyncio.get_running_loop():
            await self._session.close()
        self._session = None

    async def _fetch_info(self) -> ModelInfo:
        url = self._base_url + "/models"
        try:
            async with self._client().get(url, headers=self._headers()) as response:
                status, text = response.status, await response.text(errors="replace")
        except _TransportError as exc:
            raise self._transport_error(exc) from exc
        if status >= 400:
            raise _status_error(status, text)
        try:
            listing = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LLMError(
                f"{url} did not answer JSON: {text[:200]!r}", code="llm_bad_response"
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

    def _transport_error(self, exc: BaseException) -> LLMError:
        base, settings = self._base_url, self._settings
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return LLMError(
                f"no connection to the model server at {base} "
                f"within {settings.connect_timeout_s:g} s",
                code="llm_connect_timeout",
            )
        if isinstance(exc, aiohttp.SocketTimeoutError):
            silence = min(settings.read_timeout_s, settings.total_timeout_s)
            return LLMError(
                f"the model server at {base} sent nothing for {silence:g} s",
                code="llm_read_timeout",
            )
        if isinstance(exc, asyncio.TimeoutError):
            return LLMError(f"the model server at {base} timed out: {exc!r}", code="llm_timeout")
        if isinstance(exc, aiohttp.ClientConnectorError):
            return LLMError(
                f"cannot connect to the model server at {base}: {exc.os_error or exc}",
                code="llm_unreachable",
            )
        if isinstance(
            exc,
            aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | aiohttp.ClientOSError,
        ):
            return LLMError(
                f"the model server at {base} dropped the connection mid-reply: {exc!r}",
                code="llm_connection_lost",
            )
        return LLMError(f"request to the model server at {base} failed: {exc!r}")


def _decode_all(
    decoder: ReplyDecoder, payloads: list[str]
) -> tuple[list[ModelDelta], LLMError | None]:
    """The deltas of one read's payloads, and the error that cut them short, if any."""
    deltas: list[ModelDelta] = []
    try:
        for payload in payloads:
            deltas += decoder.decode(payload)
            if decoder.done:
                break
    except LLMError as exc:
        return deltas, exc
    return deltas, None


def _status_error(status: int, text: str) -> LLMError:
    try:
        body: object = json.loads(text)
    except json.JSONDecodeError:
        body = text
    message, code = error_details(body)
    return classify_error(message, status=status, code=code)


async def _raise_for_response(response: aiohttp.ClientResponse) -> None:
    """Raise for an HTTP error, or for a 200 that carries JSON instead of a stream."""
    if response.status >= 400:
        raise _status_error(response.status, await response.text(errors="replace"))
    content_type = response.headers.get("content-type", "")
    if "json" in content_type and "event-stream" not in content_type:
        text = await response.text(errors="replace")
        try:
            body = json.loads(text)
        except json.JSONDecodeError:
            body = None
        if isinstance(body, dict) and (body.get("error") or body.get("object") == "error"):
            message, code = error_details(body)
            raise classify_error(message, status=code if isinstance(code, int) else None, code=code)
        raise LLMError(
            f"the model server answered {content_type}, not a stream", code="llm_bad_stream"
        )


def env_proxy(url: str) -> tuple[URL | None, aiohttp.BasicAuth | None]:
    """The proxy ``HTTP_PROXY``/``HTTPS_PROXY`` name for ``url`` (None where ``NO_PROXY``
    exempts its host), with its credentials.

    Looked up once per session: aiohttp's ``trust_env`` would look it up (and the netrc file)
    in worker threads on every request, two thread-pool hops per answer. The model server's
    credentials come from the API key setting, never from netrc.
    """
    try:
        return get_env_proxy_for_url(URL(url))
    except LookupError:
        return None, None
