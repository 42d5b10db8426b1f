"""The API reference page at ``/schema``: Scalar, served by the service itself.

The page's one script is a pinned copy of Scalar's standalone bundle shipped in the wheel
(``assets/``, see its NOTICE), and Scalar is told not to fetch its fonts, so the reference
works on an offline or air-gapped install.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from litestar import Request
from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.router import Router
from litestar.static_files import create_static_files_router

from searchqa.api.route_facts import route_facts

SCALAR_VERSION = "1.76.4"
ASSETS_DIR = Path(__file__).parent / "assets"
ASSETS_PATH = "/assets"
SCALAR_SCRIPT = f"scalar-api-reference-{SCALAR_VERSION}.js"
SCALAR_OPTIONS = {
    "withDefaultFonts": False,
    "hideClientButton": True,
    "telemetry": False,
    "showDeveloperTools": "never",
    "agent": {"disabled": True},
}
"""Nothing that reaches Scalar's own services: no fonts, telemetry, hosted agent or tooling."""
# The file name carries the version, so browsers may keep it.
IMMUTABLE = CacheControlHeader(public=True, max_age=365 * 24 * 3600, immutable=True)

SCHEMA_ASSETS: Router = create_static_files_router(
    path=ASSETS_PATH,
    directories=[ASSETS_DIR],
    name="schema-assets",
    cache_control=IMMUTABLE,
    include_in_schema=False,
    opt=route_facts(access="open", quiet=True),
)


class LocalScalarPlugin(OpenAPIRenderPlugin):
    """Renders the reference page with the bundled Scalar script."""

    def __init__(self) -> None:
        super().__init__(path="/scalar")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = escape(str(openapi_schema["info"]["title"]))
        json_route = self.get_openapi_json_route(request)
        schema_url = escape(json_route)
        script = escape(f"{json_route.rpartition('/')[0]}{ASSETS_PATH}/{SCALAR_SCRIPT}")
        options = escape(json.dumps(SCALAR_OPTIONS))
        return f"""<!DOCTYPE html>
<html>
<head>
<title>{title}</title>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body {{ margin: 0; padding: 0 }}</style>
</head>
<body>
<noscript>The API reference needs JavaScript; the document is at {schema_url}.</noscript>
<script id="api-reference" data-url="{schema_url}" data-configuration="{options}"></script>
<script src="{script}"></script>
</body>
</html>
""".encode()
