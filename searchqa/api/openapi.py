"""The OpenAPI document: JSON at ``/schema/openapi.json``, a browsable reference at ``/schema``.

Litestar documents every route from its handler, but cannot say that a 200 is also a
``text/event-stream`` of typed events. So the JSON is completed once, before it is first
served: each event model becomes a component (``MetaEvent`` ... ``ErrorEvent``, from pydantic's
own JSON Schema, with ``type`` required), ``Event`` is their union with the ``type``
discriminator, ``ChatCompletionChunk`` describes the OpenAI-compatible stream, and each
streaming route's 200 response gets a ``text/event-stream`` content referring to them.
"""

from __future__ import annotations

import copy
from typing import Any

from litestar import Request
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, ScalarRenderPlugin
from pydantic import TypeAdapter

from searchqa.api.openai_models import ChatCompletionChunk
from searchqa.api.sse import SSE_MEDIA_TYPE
from searchqa.events import Event

REF = "#/components/schemas/"
EVENT_COMPONENT = "Event"
CHUNK_COMPONENT = "ChatCompletionChunk"
EVENT_STREAM_ROUTES = {
    ("/v1/answer", "post"): EVENT_COMPONENT,
    ("/v1/answer", "get"): EVENT_COMPONENT,
    ("/v1/answers/{request_id}/events", "get"): EVENT_COMPONENT,
    ("/v1/files/answer", "post"): EVENT_COMPONENT,
    ("/v1/chat/completions", "post"): CHUNK_COMPONENT,
}
"""Routes whose 200 response is (or may be) an event stream, and what each message carries."""
DESCRIPTION = (
    "Answers with numbered citations to live web pages, streamed as typed events. Each SSE "
    "message is `event: <type>`, `id: <request_id>-<seq>`, `data: <the event as JSON>`, in the "
    "order `meta status* sources (status|reasoning)* (status|answer|citation)* (done|error)`; "
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


def document_event_streams(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (Litestar's OpenAPI dict) with the event components and stream contents."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in stream_components().items():
        if name in schemas and name.endswith("Event") and name != EVENT_COMPONENT:
            schemas[name]["required"] = schema["required"]
        schemas.setdefault(name, schema)
    paths = document.get("paths", {})
    for (path, method), component in EVENT_STREAM_ROUTES.items():
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
            self._document = document_event_streams(copy.deepcopy(openapi_schema))
        return super().render(request, self._document)


def openapi_config(version: str) -> OpenAPIConfig:
    """Where and how the OpenAPI document is served."""
    return OpenAPIConfig(
        title="searchqa",
        version=version,
        description=DESCRIPTION,
        path="/schema",
        render_plugins=[ScalarRenderPlugin(), EventStreamJsonPlugin()],
    )
