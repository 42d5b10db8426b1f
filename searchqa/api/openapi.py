"""The OpenAPI document: JSON at ``/schema/openapi.json``, a browsable reference at ``/schema``.

Litestar documents every route from its handler; the JSON is completed once, before it is
first served, from what the routes declare (``route_facts``) and the settings:

- OpenAPI 3.2, whose ``itemSchema`` describes each message of a ``text/event-stream``: for
  routes that declare a ``stream``, an SSE message's ``data`` holds one event (``MetaEvent`` ...
  ``ErrorEvent``, named by ``event``), or one ``ChatCompletionChunk``, OpenAI error or
  ``[DONE]`` on the OpenAI-compatible route. ``Event`` is the union, discriminated by ``type``.
- The refusals every route may give, in its error shape (problem details, or OpenAI's body):
  400 and 414 (the request target, ``limits``), 401/403 unless the route is open, 422 where
  input is validated, 413 where a body is read, 429 where a generation starts.
- The configured search engines, the only names ``engines`` takes, and the bodies that refuse
  unknown fields.

The reference page loads Scalar from ``/schema/assets`` (``schema_ui``), never from a CDN.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Sequence
from typing import Any

from litestar import Litestar, Request, Router
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.routes import HTTPRoute
from pydantic import TypeAdapter

from searchqa.api.answer_models import QUESTION_PATTERN, AnswerBody, FileQuestion, TurnBody
from searchqa.api.openai_models import ChatCompletionChunk, ErrorResponse
from searchqa.api.openai_routes import OpenAIController
from searchqa.api.problems import PROBLEM_MEDIA_TYPE, ProblemDetails, status_phrase
from searchqa.api.route_facts import StreamSchema, access_of, generates, route_facts, stream_of
from searchqa.api.schema_ui import SCHEMA_ASSETS, LocalScalarPlugin
from searchqa.api.sse import SSE_MEDIA_TYPE
from searchqa.errors import SearchQAError
from searchqa.events import EVENT_ORDER, Event

OPENAPI_VERSION = "3.2.0"
REF = "#/components/schemas/"
EVENT_COMPONENT: StreamSchema = "Event"
CHUNK_COMPONENT: StreamSchema = "ChatCompletionChunk"
SCHEMA_PATH = "/schema"
DESCRIPTION = (
    "Answers with numbered citations to live web pages, streamed as typed events. Each SSE "
    "message is `event: <type>`, `id: <request_id>-<seq>`, `data: <the event as JSON>`, in the "
    f"order `{EVENT_ORDER}`; "
    "the `Event` component is their union, discriminated by `type`. Errors are RFC 9457 "
    "problem details (`application/problem+json`), except on the OpenAI-compatible routes."
)
JSON_DATA = {"type": "string", "contentMediaType": "application/json"}
CLOSED_BODIES = (AnswerBody, TurnBody)
"""Request bodies that refuse unknown fields (Litestar leaves that out of their schemas)."""


def _schemas(adapter: TypeAdapter[Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the type's own JSON Schema, the schemas of the models it refers to)."""
    schema = adapter.json_schema(ref_template=REF + "{model}", mode="serialization")
    return schema, schema.pop("$defs", {})


def stream_components() -> dict[str, dict[str, Any]]:
    """Component schemas of the event union and its members, and of the chat chunk."""
    event, components = _schemas(TypeAdapter(Event))
    for ref in event["discriminator"]["mapping"].values():
        member = components[ref.removeprefix(REF)]
        member["required"] = ["type", *(n for n in member.get("required", []) if n != "type")]
    components[EVENT_COMPONENT] = {
        **event,
        "title": EVENT_COMPONENT,
        "description": "One message of an answer's event stream (the SSE `data`).",
    }
    payloads: list[tuple[str, TypeAdapter[Any]]] = [
        (CHUNK_COMPONENT, TypeAdapter(ChatCompletionChunk)),
        ("ErrorResponse", TypeAdapter(ErrorResponse)),
    ]
    for name, adapter in payloads:
        schema, referred = _schemas(adapter)
        components |= referred
        components[name] = schema
    return components


def event_item_schema() -> dict[str, Any]:
    """One SSE message of an answer stream: ``event`` names the type that ``data`` holds."""
    event, _ = _schemas(TypeAdapter(Event))
    return {
        "type": "object",
        "required": ["event", "id", "data"],
        "properties": {"id": {"type": "string", "pattern": "^.+-[0-9]+$"}},
        "oneOf": [
            {
                "properties": {
                    "event": {"const": kind},
                    "data": {**JSON_DATA, "contentSchema": {"$ref": ref}},
                }
            }
            for kind, ref in event["discriminator"]["mapping"].items()
        ],
    }


def chunk_item_schema() -> dict[str, Any]:
    """One SSE message of a chat completion stream: a chunk, an error, or ``[DONE]``."""
    payload = {"oneOf": [{"$ref": REF + CHUNK_COMPONENT}, {"$ref": REF + "ErrorResponse"}]}
    return {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {"anyOf": [{"const": "[DONE]"}, {**JSON_DATA, "contentSchema": payload}]}
        },
    }


ITEM_SCHEMAS = {EVENT_COMPONENT: event_item_schema, CHUNK_COMPONENT: chunk_item_schema}


def route_operations(app: Litestar) -> Iterator[tuple[str, str, HTTPRouteHandler]]:
    """(OpenAPI path, method, handler) of every documented operation."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if handler.resolve_include_in_schema():
                for method in handler.http_methods:
                    yield route.path_format, method.lower(), handler


def declared_streams(app: Litestar) -> dict[tuple[str, str], StreamSchema]:
    """(OpenAPI path, method) -> the component of each message, for every route that
    declares an event stream."""
    return {
        (path, method): stream
        for path, method, handler in route_operations(app)
        if (stream := stream_of(handler)) is not None
    }


def speaks_openai(handler: HTTPRouteHandler) -> bool:
    """Whether ``handler``'s errors come in OpenAI's shape rather than as problem details."""
    openai_handler = OpenAIController.exception_handlers[SearchQAError]
    return handler.resolve_exception_handlers().get(SearchQAError) is openai_handler


def refusals(operation: dict[str, Any], handler: HTTPRouteHandler) -> list[int]:
    """The 4xx statuses ``handler`` may answer before it runs, by what it declares."""
    statuses = [400, 414]
    if access_of(handler) != "open":
        statuses += [401, 403]
    validates = operation.get("parameters") or operation.get("requestBody")
    if validates and not speaks_openai(handler):  # OpenAI's validation errors are 400s
        statuses.append(422)
    if operation.get("requestBody"):
        statuses.append(413)
    if generates(handler):
        statuses.append(429)
    return statuses


def error_content(handler: HTTPRouteHandler) -> dict[str, Any]:
    if speaks_openai(handler):
        return {"application/json": {"schema": {"$ref": REF + "ErrorResponse"}}}
    return {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": REF + ProblemDetails.__name__}}}


def document_errors(operation: dict[str, Any], handler: HTTPRouteHandler) -> None:
    """Every error response of ``operation`` in the shape its route answers with."""
    responses = operation.setdefault("responses", {})
    for status in refusals(operation, handler):
        responses.setdefault(str(status), {"description": status_phrase(status)})
    for status, response in responses.items():
        if status[0] in "45":
            response["content"] = error_content(handler)


def document_engines(document: dict[str, Any], engines: Sequence[str]) -> None:
    """``engines`` (the JSON list and the comma-separated query) names configured engines."""
    names = "|".join(re.escape(name) for name in engines)
    body = document["components"]["schemas"].get("AnswerBody", {}).get("properties", {})
    for option in body.get("engines", {}).get("oneOf", []):
        if option.get("type") == "array":
            option["items"] = {"type": "string", "enum": list(engines)}
            option["uniqueItems"] = True
    operation = document["paths"].get("/v1/answer", {}).get("get", {})
    for parameter in operation.get("parameters", []):
        if parameter["name"] == "engines":
            for option in parameter["schema"].get("oneOf", [parameter["schema"]]):
                if option.get("type") == "string":
                    option["pattern"] = rf"^[\s,]*(?:(?:{names})\s*(?:,[\s,]*|$))*$"


def complete_document(
    document: dict[str, Any], app: Litestar, *, engines: Sequence[str]
) -> dict[str, Any]:
    """``document`` (Litestar's OpenAPI dict) with the event streams, the errors of every
    operation and the engine names."""
    document["openapi"] = OPENAPI_VERSION
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in stream_components().items():
        if name in schemas and name.endswith("Event") and name != EVENT_COMPONENT:
            schemas[name]["required"] = schema["required"]
        schemas.setdefault(name, schema)
    for model in CLOSED_BODIES:
        schemas[model.__name__]["additionalProperties"] = False
    question = schemas.get(FileQuestion.__name__, {}).get("properties", {}).get("question", {})
    question["pattern"] = QUESTION_PATTERN
    paths = document.get("paths", {})
    streams = declared_streams(app)
    for path, method, handler in route_operations(app):
        operation = paths.get(path, {}).get(method)
        if operation is None:
            continue
        document_errors(operation, handler)
        if (stream := streams.get((path, method))) is not None:
            response = operation["responses"].setdefault("200", {"description": "An event stream"})
            item = ITEM_SCHEMAS[stream]()
            response.setdefault("content", {})[SSE_MEDIA_TYPE] = {"itemSchema": item}
    document_engines(document, engines)
    return document


class CompletedJsonPlugin(JsonRenderPlugin):
    """Serves the OpenAPI JSON completed from the routes and settings (worked out once)."""

    def __init__(self) -> None:
        super().__init__()
        self._document: dict[str, Any] | None = None

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        if self._document is None:
            engines = request.app.state.sessions.kit.chain.engine_names
            self._document = complete_document(
                copy.deepcopy(openapi_schema), request.app, engines=engines
            )
        return super().render(request, self._document)


def openapi_config(version: str) -> OpenAPIConfig:
    """Where and how the OpenAPI document is served."""
    return OpenAPIConfig(
        title="searchqa",
        version=version,
        description=DESCRIPTION,
        openapi_router=Router(
            SCHEMA_PATH,
            route_handlers=[SCHEMA_ASSETS],
            opt=route_facts(access="open"),
            include_in_schema=False,
        ),
        render_plugins=[LocalScalarPlugin(), CompletedJsonPlugin()],
    )
