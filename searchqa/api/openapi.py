"""The OpenAPI document: JSON at ``/schema/openapi.json``, a browsable reference at ``/schema``.

Litestar documents every route from its handler, but cannot say that a 200 is also a
``text/event-stream`` of typed events. So the JSON is completed once, before it is first
served: each event model becomes a component (``MetaEvent`` ... ``ErrorEvent``, from pydantic's
own JSON Schema, with ``type`` required), ``Event`` is their union with the ``type``
discriminator, ``ChatCompletionChunk`` describes the OpenAI-compatible stream, and the 200
response of each route that declares a ``stream`` (see ``route_facts``) gets a
``text/event-stream`` content referring to its component.
"""

from __future__ import annotations

import copy
from typing import Any

from litestar import Litestar, Request, Router
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, ScalarRenderPlugin
from litestar.routes import HTTPRoute
from pydantic import TypeAdapter

from searchqa.api.openai_models import ChatCompletionChunk
from searchqa.api.route_facts import StreamSchema, route_facts, stream_of
from searchqa.api.sse import SSE_MEDIA_TYPE
from searchqa.events import EVENT_ORDER, Event

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
    chunk, chunk_components = _schemas(TypeAdapter(ChatCompletionChunk))
    components |= chunk_components
    components[CHUNK_COMPONENT] = chunk
    return components


def declared_streams(app: Litestar) -> dict[tuple[str, str], StreamSchema]:
    """(OpenAPI path, method) -> the component of each message, for every route that
    declares an event stream."""
    return {
        (route.path_format, method.lower()): stream
        for route in app.routes
        if isinstance(route, HTTPRoute)
        for handler in route.route_handlers
        if (stream := stream_of(handler)) is not None
        for method in handler.http_methods
    }


def document_event_streams(
    document: dict[str, Any], streams: dict[tuple[str, str], StreamSchema]
) -> dict[str, Any]:
    """``document`` (Litestar's OpenAPI dict) with the event components and the stream
    content of each route in ``streams``."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in stream_components().items():
        if name in schemas and name.endswith("Event") and name != EVENT_COMPONENT:
            schemas[name]["required"] = schema["required"]
        schemas.setdefault(name, schema)
    paths = document.get("paths", {})
    for (path, method), component in streams.items():
        operation = paths.get(path, {}).get(method)
        if operation is None:
            continue
        response = operation.setdefault("responses", {}).setdefault(
            "200", {"description": "An event stream"}
        )
        response.setdefault("content", {})[SSE_MEDIA_TYPE] = {
            "schema": {"$ref": REF + component},
        }
    return document


class EventStreamJsonPlugin(JsonRenderPlugin):
    """Serves the OpenAPI JSON completed with the event stream (worked out once)."""

    def __init__(self) -> None:
        super().__init__()
        self._document: dict[str, Any] | None = None

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        if self._document is None:
            self._document = document_event_streams(
                copy.deepcopy(openapi_schema), declared_streams(request.app)
            )
        return super().render(request, self._document)


def openapi_config(version: str) -> OpenAPIConfig:
    """Where and how the OpenAPI document is served."""
    return OpenAPIConfig(
        title="searchqa",
        version=version,
        description=DESCRIPTION,
        openapi_router=Router(SCHEMA_PATH, route_handlers=[], opt=route_facts(access="open")),
        render_plugins=[ScalarRenderPlugin(), EventStreamJsonPlugin()],
    )
