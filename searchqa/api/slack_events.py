"""``POST /slack/events``: Slack's events, slash commands and interactivity, handed to Bolt.

Outside the API-key guard: Slack cannot send our keys. Bolt checks the request's signature
against the signing secret instead and answers 401 when it is wrong or older than five minutes.
"""

from __future__ import annotations

from litestar import Request, Response, post
from litestar.datastructures import State
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from searchqa.api.route_facts import route_facts


@post(
    "/slack/events",
    opt=route_facts(access="open"),
    include_in_schema=False,
    status_code=200,
)
async def slack_events(request: Request[object, object, State]) -> Response[bytes]:
    bolt: AsyncApp = request.app.state.slack_app
    body = await request.body()
    headers: dict[str, list[str]] = {}
    for name, value in request.headers.multi_items():
        headers.setdefault(name.lower(), []).append(value)
    bolt_request = AsyncBoltRequest(
        body=body.decode("utf-8", errors="replace"),
        query=request.url.query or None,
        headers=headers,  # type: ignore[arg-type]
    )
    response = await bolt.async_dispatch(bolt_request)
    headers_out = {name.lower(): values[0] for name, values in response.headers.items() if values}
    media_type = headers_out.pop("content-type", "text/plain; charset=utf-8")
    headers_out.pop("content-length", None)
    return Response(
        content=response.body.encode() if isinstance(response.body, str) else response.body,
        status_code=response.status,
        media_type=media_type,
        headers=headers_out,
    )
