"""The error tree. Every error carries a stable code, a retry hint and an HTTP status."""

from __future__ import annotations


class SearchQAError(Exception):
    """Base of every error searchqa raises on purpose."""

    code = "internal_error"
    retryable = False
    http_status = 500

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidRequestError(SearchQAError):
    """Bad input: empty or huge query, unreadable file, unknown option."""

    code = "invalid_request"
    http_status = 400

    def __init__(self, message: str, *, code: str | None = None, http_status: int = 400) -> None:
        super().__init__(message, code=code)
        self.http_status = http_status


class UpstreamError(SearchQAError):
    """A service searchqa depends on failed."""

    code = "upstream_error"
    retryable = True
    http_status = 502
    service = "upstream"


class SearchError(UpstreamError):
    """Every search engine failed or is rate-limited."""

    code = "search_unavailable"
    service = "search"
    http_status = 503


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
    http_status = 404
