"""Server-sent events as OpenAI-compatible servers stream them, and what their events mean.

``SSEDecoder`` frames bytes into event payloads. Lines end only at CR, LF or CRLF, as the SSE
standard says: ``str.splitlines`` would also break at U+2028, NEL and friends, which JSON
encoders leave unescaped inside model text. Bytes are split before decoding, so a chunk
boundary inside a multi-byte character does no harm.
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec

from searchqa.errors import LLMError
from searchqa.events import Usage
from searchqa.llm.think import ThinkSplitter
from searchqa.protocols import ModelDelta

MAX_LINE_BYTES = 8 * 1024 * 1024
_END_OF_LINE = re.compile(rb"\r\n|\r|\n")
_BOM = b"\xef\xbb\xbf"
_decode_json = msgspec.json.Decoder().decode
"""JSON for every chunk of the stream: msgspec's decoder takes about a third of the stdlib's
time on SGLang's chunks (it ships with litestar)."""


class SSEDecoder:
    """Incremental SSE framing: feed bytes, get the ``data`` of each complete event."""

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []
        self._started = False

    def feed(self, chunk: bytes) -> list[str]:
        """Take the next bytes; return the payloads of the events they complete."""
        buffer = self._buffer + chunk if self._buffer else chunk
        if not self._started:
            if _BOM.startswith(buffer):
                self._buffer = buffer
                return []
            self._started = True
            buffer = buffer.removeprefix(_BOM)
        payloads: list[str] = []
        if b"\r" not in buffer:  # the common case: LF only, one split for the whole read
            lines = buffer.split(b"\n")
            rest = lines.pop()
            for line in lines:
                payload = self._take_line(line)
                if payload is not None:
                    payloads.append(payload)
        else:
            position = 0
            for match in _END_OF_LINE.finditer(buffer):
                if match.group() == b"\r" and match.end() == len(buffer):
                    break  # the LF of a CRLF may be in the next chunk
                payload = self._take_line(buffer[position : match.start()])
                if payload is not None:
                    payloads.append(payload)
                position = match.end()
            rest = buffer[position:]
        self._buffer = rest
        if len(rest) > MAX_LINE_BYTES:
            raise LLMError(
                f"the model server sent a stream line longer than {MAX_LINE_BYTES} bytes",
                code="llm_bad_stream",
            )
        return payloads

    def close(self) -> list[str]:
        """End of stream: an unterminated last line or event still counts."""
        payloads: list[str] = []
        if self._buffer:
            payload = self._take_line(self._buffer.rstrip(b"\r"))
            if payload is not None:
                payloads.append(payload)
        self._buffer = b""
        if self._data:
            payloads.append("\n".join(self._data))
            self._data = []
        return payloads

    def _take_line(self, line: bytes) -> str | None:
        if not line:
            if not self._data:
                return None
            payload = self._data[0] if len(self._data) == 1 else "\n".join(self._data)
            self._data = []
            return payload
        if line.startswith(b"data:"):
            value = line[6:] if line.startswith(b"data: ") else line[5:]
            self._data.append(value.decode("utf-8", errors="replace"))
            return None
        text = line.decode("utf-8", errors="replace")
        if text.startswith(":"):
            return None  # a comment, often a keep-alive
        name, _, value_text = text.partition(":")
        if name == "data":
            self._data.append(value_text.removeprefix(" "))
        return None


def merge_deltas(deltas: list[ModelDelta]) -> list[ModelDelta]:
    """Neighbouring deltas of the same kind as one (tokens that came in the same read)."""
    if len(deltas) < 2:
        return deltas
    merged = [deltas[0]]
    for delta in deltas[1:]:
        last = merged[-1]
        if delta.usage is None and last.usage is None:
            if not (delta.content or last.content):
                merged[-1] = ModelDelta(reasoning=last.reasoning + delta.reasoning)
                continue
            if not (delta.reasoning or last.reasoning):
                merged[-1] = ModelDelta(content=last.content + delta.content)
                continue
        merged.append(delta)
    return merged


_CONTEXT_TOO_LONG = re.compile(
    r"context (?:length|window|size)|context_length|maximum context|prompt is too long"
    r"|input is too long|too many tokens",
    re.IGNORECASE,
)
_MESSAGE_LIMIT = 500
# SGLang's refusals when its waiting queue (--max-queued-requests) is full, with HTTP status or
# error code 503: before the stream for plain requests, as the first chunk of a stream otherwise.
_OVERLOADED = re.compile(
    r"request queue is full|aborted by a higher priority request", re.IGNORECASE
)


def error_details(body: object) -> tuple[str, object]:
    """The message and code of an error body in any of the shapes servers use.

    SGLang answers ``{"object": "error", "message", "type", "code"}`` and streams
    ``{"error": {...the same...}}``; OpenAI nests ``{"error": {"message", "code"}}``;
    FastAPI says ``{"detail": ...}``.
    """
    if not isinstance(body, dict):
        return (str(body) if body is not None else ""), None
    inner = body.get("error")
    if isinstance(inner, dict):
        body = inner
    elif isinstance(inner, str) and inner:
        return inner, body.get("code")
    message = body.get("message") or body.get("detail") or body.get("msg") or ""
    return (message if isinstance(message, str) else json.dumps(message)), body.get("code")


def classify_error(
    message: str, *, status: int | None, code: object = None, mid_stream: bool = False
) -> LLMError:
    """The LLMError for a server's error, with a code callers can act on."""
    message = (message or "no message").strip()[:_MESSAGE_LIMIT]
    if (
        code == "context_length_exceeded"
        or status == 413
        or (status in (None, 400) and _CONTEXT_TOO_LONG.search(message))
    ):
        return LLMError(
            f"the prompt is too long for the model: {message}",
            code="context_length_exceeded",
            retryable=False,
        )
    if status in (401, 403):
        return LLMError(
            f"the model server refused the credentials (HTTP {status}): {message}",
            code="llm_auth",
            retryable=False,
        )
    if status == 503 and _OVERLOADED.search(message):
        return LLMError(
            f"the model server is at capacity, try again shortly: {message}",
            code="llm_overloaded",
            retryable=True,
        )
    client_fault = status is not None and 400 <= status < 500 and status != 429
    if mid_stream:
        return LLMError(
            f"the model server failed mid-reply: {message}",
            code="llm_stream_error",
            retryable=not client_fault,
        )
    if status == 404:
        error_code = "llm_not_found"
    elif status == 429:
        error_code = "llm_rate_limited"
    elif client_fault:
        error_code = "llm_bad_request"
    else:
        error_code = "llm_server_error"
    return LLMError(
        f"the model server answered HTTP {status}: {message}",
        code=error_code,
        retryable=not client_fault,
    )


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _usage(raw: dict[str, Any]) -> Usage | None:
    try:
        prompt = int(raw.get("prompt_tokens") or 0)
        completion = int(raw.get("completion_tokens") or 0)
        total = int(raw.get("total_tokens") or prompt + completion)
    except (TypeError, ValueError):
        return None
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=total)


class ReplyDecoder:
    """Turns the payloads of a chat or text completion stream into ModelDeltas.

    Reasoning comes from ``delta.reasoning_content`` when the server splits it (SGLang with
    ``--reasoning-parser``); otherwise the raw text is split at ``</think>`` here. Leading
    whitespace of the reasoning and of the answer is dropped (R1 opens its answer with a
    blank line). Usage is reported once, after the text.
    """

    def __init__(self, *, text_completion: bool) -> None:
        self._text_completion = text_completion
        self._splitter = ThinkSplitter()
        self._server_splits = False
        self._usage: Usage | None = None
        self._finished = False
        self._reasoning_started = False
        self._answer_started = False
        self.done = False

    def decode(self, payload: str) -> list[ModelDelta]:
        """Deltas for one event payload; raises LLMError for an error or malformed payload."""
        if payload.strip() == "[DONE]":
            self.done = True
            return []
        if not payload.strip():
            return []
        try:
            chunk = _decode_json(payload)
        except msgspec.DecodeError as exc:
            lines = [line for line in payload.split("\n") if line.strip()]
            if len(lines) < 2:
                raise self._malformed(payload) from exc
            # Several data lines sent without the blank line between events.
            try:
                return [delta for line in lines for delta in self.decode(line)]
            except LLMError as line_error:
                if line_error.code != "llm_bad_stream":
                    raise
                raise self._malformed(payload) from exc
        if not isinstance(chunk, dict):
            raise self._malformed(payload)
        return self._decode_chunk(chunk, payload)

    def finish(self) -> list[ModelDelta]:
        """Deltas still held at the end of the stream; raises if the reply was cut off."""
        if not self.done and not self._finished:
            raise LLMError(
                "the model server ended the stream before the reply was complete",
                code="llm_stream_incomplete",
            )
        deltas = self._emit(*self._splitter.flush())
        if self._usage is not None:
            deltas.append(ModelDelta(usage=self._usage))
        return deltas

    def _decode_chunk(self, chunk: dict[str, Any], payload: str) -> list[ModelDelta]:
        if chunk.get("error") or chunk.get("object") == "error":
            message, code = error_details(chunk)
            status = code if isinstance(code, int) else None
            raise classify_error(message, status=status, code=code, mid_stream=True)
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self._usage = _usage(usage) or self._usage
        choices = chunk.get("choices") or []
        if not isinstance(choices, list):
            raise self._malformed(payload)
        deltas: list[ModelDelta] = []
        for choice in choices:
            if not isinstance(choice, dict) or choice.get("index", 0) not in (0, None):
                continue
            if choice.get("finish_reason"):
                self._finished = True
            if self._text_completion:
                deltas += self._emit(*self._splitter.feed(_text(choice.get("text"))))
            else:
                delta = choice.get("delta")
                deltas += self._decode_delta(delta if isinstance(delta, dict) else {})
        return deltas

    def _decode_delta(self, delta: dict[str, Any]) -> list[ModelDelta]:
        reasoning = _text(delta.get("reasoning_content")) or _text(delta.get("reasoning"))
        content = _text(delta.get("content"))
        if reasoning and not self._server_splits:
            self._server_splits = True
            reasoning = self._splitter.flush()[0] + reasoning
        if content and not self._server_splits:
            split_reasoning, content = self._splitter.feed(content)
            reasoning += split_reasoning
        return self._emit(reasoning, content)

    def _emit(self, reasoning: str, content: str) -> list[ModelDelta]:
        if not self._reasoning_started:
            reasoning = reasoning.lstrip()
            self._reasoning_started = bool(reasoning)
        if not self._answer_started:
            content = content.lstrip()
            self._answer_started = bool(content)
        deltas = []
        if reasoning:
            deltas.append(ModelDelta(reasoning=reasoning))
        if content:
            deltas.append(ModelDelta(content=content))
        return deltas

    @staticmethod
    def _malformed(payload: str) -> LLMError:
        return LLMError(
            f"the model server sent a malformed stream event: {payload[:200]!r}",
            code="llm_bad_stream",
        )
