"""RFC 9457 problem details (``application/problem+json``) for every 4xx and 5xx response."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import ExceptionHandlersMap
from pydantic import BaseModel

from searchqa.errors import SearchQAError, UpstreamError

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "request_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    500: "internal_error",
    502: "upstream_error",
    503: "unavailable",
}


class ProblemDetails(BaseModel):
    """RFC 9457 problem details, with searchqa's stable error ``code``."""

    type: str = "about:blank"
    title: str
    status: int
    code: str
    detail: str | None = None
    instance: str | None = None
    retryable: bool | None = None
    service: str | None = None
    errors: list[dict[str, Any]] | None = None


def status_code(status: int) -> str:
    """searchqa's stable error code for a refusal that carries no code of its own."""
    return _CODES.get(status, "error")


def problem_specs(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI descriptions of the problem responses a route may give."""
    return {
        status: ResponseSpec(
            ProblemDetails,
            description=status_phrase(status),
            media_type=PROBLEM_MEDIA_TYPE,
            generate_examples=False,
        )
        for status in statuses
    }


def status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_response(
    status: int,
    *,
    code: str | None = None,
    detail: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> Response[dict[str, Any]]:
    """A problem-details response; ``code`` is searchqa's stable error code."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": status_phrase(status),
        "status": status,
        "code": code or status_code(status),
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update({key: value for key, value in extensions.items() if value is not None})
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def error_problem(exc: SearchQAError, *, instance: str | None = None) -> Response[dict[str, Any]]:
    """The problem for one of searchqa's own errors."""
    return problem_response(
        exc.http_status,
        code=exc.code,
        detail=exc.message,
        instance=instance,
        retryable=exc.retryable,
        service=exc.service if isinstance(exc, UpstreamError) else None,
    )


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    """Turn any exception a handler or the router raised into problem details."""
    path = request.url.path
    if isinstance(exc, SearchQAError):
        return error_problem(exc, instance=path)
    if isinstance(exc, ValidationException):
        errors = exc.extra if isinstance(exc.extra, list) else None
        return problem_response(
            422, detail="the request does not match the schema", instance=path, errors=errors
        )
    if isinstance(exc, HTTPException):
        status = exc.status_code
        detail = exc.detail if exc.detail and exc.detail != status_phrase(status) else None
        return problem_response(status, detail=detail, instance=path, headers=exc.headers)
    log.exception("unhandled error on %s %s", request.method, path)
    return problem_response(500, detail="an internal error occurred", instance=path)


EXCEPTION_HANDLERS: ExceptionHandlersMap = {Exception: handle_exception}
