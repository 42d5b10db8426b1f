"""searchqa: a self-hosted answer engine with cited, streamed answers.

Embedding it takes three names: build an ``AnswerKit`` from ``Settings`` once, then iterate
``answer(question, kit=kit)`` for each question; every item is one of the event types below.
"""

__version__ = "0.1.0"

from searchqa.answer import Question, answer, answer_file, prepare
from searchqa.errors import (
    InvalidRequestError,
    LLMError,
    SearchError,
    SearchQAError,
    UpstreamError,
)
from searchqa.events import (
    EVENT_ORDER,
    AnswerEvent,
    CitationEvent,
    DoneEvent,
    ErrorEvent,
    Event,
    MetaEvent,
    ReasoningEvent,
    Source,
    SourcesEvent,
    StatusEvent,
    parse_event,
)
from searchqa.kit import AnswerKit
from searchqa.settings import Settings

__all__ = [
    "EVENT_ORDER",
    "AnswerEvent",
    "AnswerKit",
    "CitationEvent",
    "DoneEvent",
    "ErrorEvent",
    "Event",
    "InvalidRequestError",
    "LLMError",
    "MetaEvent",
    "Question",
    "ReasoningEvent",
    "SearchError",
    "SearchQAError",
    "Settings",
    "Source",
    "SourcesEvent",
    "StatusEvent",
    "UpstreamError",
    "__version__",
    "answer",
    "answer_file",
    "parse_event",
    "prepare",
]
