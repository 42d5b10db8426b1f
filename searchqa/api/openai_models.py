"""Wire models of the OpenAI-compatible facade, and how a chat request becomes a question.

How ``messages`` map to an ``AnswerRequest``:

- The last ``user`` message is the question. The ``user`` and ``assistant`` messages before it
  are the history (the most recent ``MAX_HISTORY_TURNS``); messages after it are dropped.
- Assistant turns lose any reasoning a client echoes back: ``<think>...</think>`` and
  Open WebUI's ``<details type="reasoning">`` blocks.
- ``system`` and ``developer`` messages are not forwarded: DeepSeek-R1 is meant to run without
  a system prompt, and the official search template is the whole instruction. ``tool`` and
  ``function`` messages are dropped too.
- Content given as a list of parts keeps its text parts, joined by newlines; images, audio
  and other parts are dropped.

Other fields: unknown ones are ignored, as OpenAI-compatible servers usually do; known ones are
parsed strictly (``"stream": "yes"`` is refused, not read as true). ``model`` must be
``searchqa``, the one model ``/v1/models`` lists (else 404 ``model_not_found``); replies name it
too. ``n`` may only be 1. ``temperature`` is clamped into DeepSeek's recommended 0.5-0.7 instead
of being refused, and the model samples with it (absent: the server's configured temperature).
``max_tokens`` and ``max_completion_tokens`` must be positive and are otherwise ignored: R1
spends most of its tokens thinking, so a client's cap (often tiny, e.g. for title generation)
would cut the answer before it starts; the server's own output budget applies.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
)

from searchqa.api.answer_models import StrictBody, WholeNumber
from searchqa.errors import InvalidRequestError
from searchqa.events import SearchReport, Usage
from searchqa.service.requests import MAX_HISTORY_TURNS, AnswerRequest, Turn

SERVED_MODEL = "searchqa"
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.5, 0.7
_REASONING_ECHO = re.compile(
    r"<think>.*?(?:</think>|\Z)|<details\b[^>]*\btype=\"reasoning\"[^>]*>.*?</details>",
    re.DOTALL | re.IGNORECASE,
)


class UnknownModelError(InvalidRequestError):
    """A chat request for a model this server does not serve (OpenAI's 404)."""

    param = "model"

    def __init__(self, model: str) -> None:
        super().__init__(
            f"The model `{model}` does not exist; this server serves `{SERVED_MODEL}`",
            code="model_not_found",
            http_status=404,
        )


class ContentPart(StrictBody):
    """One part of a message's content; only ``text`` parts matter here."""

    type: str
    text: str | None = None


class ChatMessage(StrictBody):
    role: str
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        """The content as plain text, text parts joined by newlines."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(
            part.text for part in self.content if part.type == "text" and part.text is not None
        )


class StreamOptions(StrictBody):
    include_usage: bool | None = None


class ChatCompletionRequest(StrictBody):
    """The fields of OpenAI's chat completion request that searchqa reads; others are ignored."""

    model: str = Field(
        default=SERVED_MODEL,
        description=f"`{SERVED_MODEL}`; other names are 404 `model_not_found`",
        json_schema_extra={"enum": [SERVED_MODEL]},
    )
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: WholeNumber = Field(default=1, ge=1, le=1, description="Choices: only one is generated")
    temperature: float | None = Field(default=None, description="Clamped into 0.5-0.7")
    max_tokens: WholeNumber | None = Field(default=None, ge=1, description="Accepted, not applied")
    max_completion_tokens: WholeNumber | None = Field(
        default=None, ge=1, description="Accepted, not applied"
    )

    @field_validator("temperature")
    @classmethod
    def _clamp_temperature(cls, value: float | None) -> float | None:
        if value is None:
            return None
        return min(max(value, MIN_TEMPERATURE), MAX_TEMPERATURE)

    @property
    def include_usage(self) -> bool:
        return bool(self.stream and self.stream_options and self.stream_options.include_usage)


def strip_reasoning(text: str) -> str:
    """An assistant message without the reasoning a client echoed back into it."""
    text = _REASONING_ECHO.sub("", text)
    # Reasoning echoed without its opening tag (R1's chat template writes that one).
    _, closed, after = text.rpartition("</think>")
    return (after if closed else text).strip()


def to_answer_request(request: ChatCompletionRequest) -> AnswerRequest:
    """The question and history of a chat request (rules in the module docstring)."""
    if request.model != SERVED_MODEL:
        raise UnknownModelError(request.model)
    last_user = next(
        (i for i in range(len(request.messages) - 1, -1, -1) if request.messages[i].role == "user"),
        None,
    )
    if last_user is None:
        raise InvalidRequestError("messages has no user message to answer", code="no_question")
    history: list[Turn] = []
    for message in request.messages[:last_user]:
        if message.role == "user":
            turn = Turn(role="user", content=message.text().strip())
        elif message.role == "assistant":
            turn = Turn(role="assistant", content=strip_reasoning(message.text()))
        else:
            continue
        if turn.content:
            history.append(turn)
    return AnswerRequest(
        query=request.messages[last_user].text(),
        history=history[-MAX_HISTORY_TURNS:],
        temperature=request.temperature,
    )


class _Sparse(BaseModel):
    """Serialises without the fields that are None, as OpenAI leaves absent parts out."""

    @model_serializer(mode="wrap")
    def _without_nones(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {key: value for key, value in data.items() if value is not None}


class SearchResult(BaseModel):
    """One source, Perplexity style; its position + 1 is the ``n`` of ``[n]``."""

    title: str
    url: str
    date: str | None
    snippet: str


class UrlCitation(BaseModel):
    url: str
    title: str
    start_index: int
    """Character (code point) offset of ``[n]`` in the whole content."""
    end_index: int


class Annotation(BaseModel):
    type: Literal["url_citation"] = "url_citation"
    url_citation: UrlCitation


class ChunkDelta(_Sparse):
    role: Literal["assistant"] | None = None
    content: str | None = None
    reasoning_content: str | None = None
    annotations: list[Annotation] | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: ChunkDelta
    finish_reason: Literal["stop"] | None = None


class ChatCompletionChunk(_Sparse):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str = SERVED_MODEL
    choices: list[ChunkChoice]
    search_results: list[SearchResult] | None = None
    citations: list[str] | None = None
    search: SearchReport | None = None
    """On the last chunk: the query searched, the engine used, the engines that failed."""
    flags: list[str] | None = None
    """On the last chunk: the answer's flags (``search_degraded``, ``no_sources``...)."""
    usage: Usage | None = None


class CompletionMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    reasoning_content: str
    annotations: list[Annotation]


class CompletionChoice(BaseModel):
    index: int = 0
    message: CompletionMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = SERVED_MODEL
    choices: list[CompletionChoice]
    usage: Usage
    search_results: list[SearchResult]
    citations: list[str]
    """Source URLs; ``[n]`` in the content cites ``citations[n - 1]``."""
    search: SearchReport | None = None
    """The query searched, the engine used, the engines that failed."""
    flags: list[str] = []
    """The answer's flags (``search_degraded``, ``no_sources``, ``snippets_only``)."""


class ModelCard(BaseModel):
    id: str = SERVED_MODEL
    object: Literal["model"] = "model"
    created: int
    owned_by: str = SERVED_MODEL


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorDetail(BaseModel):
    message: str
    type: str
    """``invalid_request_error`` for 4xx, ``server_error`` otherwise."""
    param: str | None = None
    code: str


class ErrorResponse(BaseModel):
    """OpenAI's error body; also the payload of an SSE event that ends a failed stream."""

    error: ErrorDetail
