"""The error tree. Every error carries a stable code, a retry hint and an HTTP status.

``http_status_for`` is the one rule from an error to its HTTP status, whether the error is
raised before a stream starts or arrives as the ``error`` event that ends one: only invalid
input carries its own status (400, 413, 415, 422); everything else follows from its code and
the service that failed.
"""

from __future__ import annotations

from typing import Protocol


class SearchQAError(Exception):
    """Base of every error searchqa raises on purpose."""

    code = "internal_error"
    retryable = False

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    @property
    def http_status(self) -> int:
        return http_status_for(self)


class InvalidRequestError(SearchQAError):
    """Bad input: empty or huge query, unreadable file, unknown option."""

    code = "invalid_request"

    def __init__(self, message: str, *, code: str | None = None, http_status: int = 400) -> None:
        super().__init__(message, code=code)
        self.input_status = http_status

    @property
    def http_status(self) -> int:
        return self.input_status


class UpstreamError(SearchQAError):
    """A service searchqa depends on failed."""

    code = "upstream_error"
    retryable = True
    service = "upstream"


class SearchError(UpstreamError):
    """Every search engine failed or is rate-limited."""

    code = "search_unavailable"
    service = "search"


class LLMError(UpstreamError):
    """The model server was unreachable, refused the request or broke the stream."""

    code = "llm_error"
    service = "llm"

    def __init__(
        self, message: str, *, code: str | None = None, retryable: bool | None = None
    ) -> None:
        super().__init__(message, code=code)
        if retryable is not None:
            self.retryable = retryable


class CacheError(UpstreamError):
    """The cache failed; never fatal to an answer."""

    code = "cache_error"
    service = "cache"


class NoSourcesError(SearchQAError):
    """Search found nothing usable."""

    code = "no_sources"


class Failure(Protocol):
    """What a status is worked out from: an error, or the ``error`` event that reports one."""

    @property
    def code(self) -> str: ...


STATUS_BY_CODE = {
    "cancelled": 409,
    "abandoned": 503,
    "shutting_down": 503,
    "unknown_answer": 404,
    "no_sources": 404,
    "llm_overloaded": 503,
}
"""Failures whose code decides the status (the stop reasons, missing things)."""
STATUS_BY_SERVICE = {"llm": 502, "upstream": 502, "search": 503, "cache": 503}
"""The status when a service the answer depends on failed."""


def http_status_for(error: SearchQAError | Failure) -> int:
    """The HTTP status of ``error``: raised (a ``SearchQAError``) or reported (an ``error``
    event, whose ``service`` names the upstream that failed)."""
    if isinstance(error, InvalidRequestError):
        return error.input_status
    if error.code in STATUS_BY_CODE:
        return STATUS_BY_CODE[error.code]
    service = getattr(error, "service", None)
    return STATUS_BY_SERVICE.get(service or "", 500)
