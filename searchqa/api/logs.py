"""Structured logs: one JSON object per line on stderr, tagged with the request being served.

Every line has ``timestamp`` (UTC, ISO 8601), ``level``, ``logger``, ``message`` and ``pid``;
``request_id`` (the HTTP request's, from a valid ``X-Request-ID`` or made up) and ``answer_id``
(the ``request_id`` of the answer's ``meta`` event) once known; ``exception`` with a traceback.
Access lines (logger ``searchqa.access``) add ``method``, ``route``, ``path`` (never the query
string), ``status``, ``duration_ms`` and ``client``.

The ids live in a context variable: set per HTTP request, inherited by the tasks the request
starts (its answer's generation), and completed with the answer id when the answer's first event
is written. Headers are never logged, and anything shaped like a credential (a bearer token,
``api_key=...``, a password in a URL) is masked in messages and tracebacks.
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

ACCESS_LOGGER = "searchqa.access"
ACCESS_FIELDS = ("method", "route", "path", "status", "duration_ms", "client")
QUIET_LOGGERS = ("httpx", "httpcore", "hpack")
"""Libraries that log every outbound request at INFO: pages, search and model calls."""

_SECRETS = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[^\s\"',;]+"), r"\1 [redacted]"),
    (
        re.compile(
            r"(?i)\b(api[_-]?key|x-api-key|authorization|password|passwd|secret|token|key)"
            r"(\"?'?\s*[:=]\s*\"?'?)[^\s\"'&,;]+"
        ),
        r"\1\2[redacted]",
    ),
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^\s/@]+@"), r"\1[redacted]@"),
)


@dataclass(slots=True)
class RequestContext:
    """The ids log lines carry while one request (and the answer it starts) is served."""

    request_id: str
    answer_id: str | None = None


_CONTEXT: ContextVar[RequestContext | None] = ContextVar("searchqa_request", default=None)


def bind_request(request_id: str) -> Token[RequestContext | None]:
    """Tag this task's logs, and those of tasks it starts, with ``request_id``."""
    return _CONTEXT.set(RequestContext(request_id))


def unbind_request(token: Token[RequestContext | None]) -> None:
    _CONTEXT.reset(token)


def current_request() -> RequestContext | None:
    return _CONTEXT.get()


def note_answer(answer_id: str) -> None:
    """Record the id of the answer the current request started (its ``meta.request_id``)."""
    context = _CONTEXT.get()
    if context is not None and context.answer_id is None:
        context.answer_id = answer_id


def redact(text: str) -> str:
    """``text`` with credentials masked."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
            "pid": record.process,
        }
        context = _CONTEXT.get()
        if context is not None:
            line["request_id"] = context.request_id
            if context.answer_id is not None:
                line["answer_id"] = context.answer_id
        for name in ACCESS_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        elif record.stack_info:
            line["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(line, ensure_ascii=False, default=str)


def log_config(level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the server (also uvicorn's ``log_config``).

    Everything goes to stderr as JSON through the root logger; uvicorn's access log is
    switched off in favour of searchqa's own, which knows routes and request ids.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False},
            **{name: {"level": "WARNING"} for name in QUIET_LOGGERS},
        },
    }


def configure_logging(level: str = "INFO") -> None:
    """Send this process's logs (and Python warnings) to stderr as JSON lines."""
    logging.config.dictConfig(log_config(level))
    logging.captureWarnings(True)
