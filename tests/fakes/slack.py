"""A local stand-in for Slack: its Web API, Socket Mode and response URLs.

slack_sdk's ``AsyncWebClient`` talks to it through ``base_url`` (``SEARCHQA_SLACK__API_URL``).
It records every call (method and arguments, JSON or form), keeps the messages posted to it so
``conversations.replies`` returns a real thread, and can misbehave as Slack does: refuse streams
(``channel_type_not_supported``), close a stream mid-answer (``message_not_in_streaming_state``)
and answer 429 with ``Retry-After``. ``apps.connections.open`` hands out a WebSocket on which
tests push Socket Mode envelopes.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.server import serve

BOT_USER, BOT_ID, TEAM = "UBOT", "BBOT", "T0001"


@dataclass
class SlackCall:
    method: str
    args: dict[str, Any]
    at: float


@dataclass
class FakeSlack:
    """Configuration, records and conversations of one fake Slack."""

    refuse_streams: bool = False
    expire_stream_after_appends: int | None = None
    """``chat.appendStream`` fails with ``message_not_in_streaming_state`` after this many."""
    rate_limit_once: set[str] = field(default_factory=set)
    """Methods that answer 429 (``Retry-After: 1``) the first time they are called."""
    not_in_channel: set[str] = field(default_factory=set)
    calls: list[SlackCall] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)
    """What was POSTed to response URLs."""
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    acks: list[dict[str, Any]] = field(default_factory=list)
    """Socket Mode acknowledgements the bot sent."""
    url: str = ""
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _loop: asyncio.AbstractEventLoop | None = None
    _clock: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _appends: dict[str, int] = field(default_factory=dict)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # slack_sdk reads some with GET
        app.router.add_get("/socket", self._socket)
        app.router.add_post("/respond/{id}", self._respond)
        return app

    # -- what tests use ------------------------------------------------------------------------

    def new_ts(self) -> str:
        return f"{1_700_000_000 + next(self._clock)}.000100"

    def add_user_message(
        self, channel: str, text: str, *, user: str = "U1", thread_ts: str | None = None
    ) -> str:
        """A message a person wrote; returns its ts."""
        ts = self.new_ts()
        message = {"type": "message", "user": user, "text": text, "ts": ts}
        if thread_ts:
            message["thread_ts"] = thread_ts
        self.messages.setdefault(channel, []).append(message)
        return ts

    def called(self, method: str) -> list[SlackCall]:
        return [call for call in self.calls if call.method == method]

    def bot_messages(self, channel: str) -> list[dict[str, Any]]:
        return [m for m in self.messages.get(channel, []) if m.get("bot_id") == BOT_ID]

    async def wait_for(self, condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                methods = [c.method for c in self.calls]
                raise AssertionError(f"timed out; Slack saw {methods}")
            await asyncio.sleep(0.05)

    def connected(self) -> bool:
        """Whether a Socket Mode client is connected."""
        return bool(self._sockets)

    def push(self, payload: dict[str, Any], *, kind: str = "events_api") -> str:
        """Send one Socket Mode envelope to every connected socket; returns its id."""
        assert self._loop is not None, "no Socket Mode connection yet"
        assert self._sockets, "no Socket Mode connection open"
        envelope_id = uuid.uuid4().hex
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": 0,
            "retry_reason": "",
        }
        for socket in self._sockets:
            asyncio.run_coroutine_threadsafe(socket.send_str(json.dumps(envelope)), self._loop)
        return envelope_id

    # -- the Web API ---------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _arguments(request)
        self.calls.append(SlackCall(method, args, time.monotonic()))
        if method in self.rate_limit_once:
            self.rate_limit_once.discard(method)
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "1"}
            )
        handlers = {
            "auth.test": self._auth_test,
            "apps.connections.open": self._apps_connections_open,
            "chat.postMessage": self._chat_post_message,
            "chat.startStream": self._chat_start_stream,
            "chat.appendStream": self._chat_append_stream,
            "chat.stopStream": self._chat_stop_stream,
            "chat.update": self._chat_update,
            "conversations.replies": self._conversations_replies,
        }
        handler = handlers.get(method)
        return _ok() if handler is None else handler(args)

    def _auth_test(self, args: dict[str, Any]) -> web.Response:
        return _ok(user_id=BOT_USER, bot_id=BOT_ID, team_id=TEAM, user="searchqa", team="Acme")

    def _apps_connections_open(self, args: dict[str, Any]) -> web.Response:
        return _ok(url=self.url.replace("http://", "ws://") + "/socket")

    def _chat_post_message(self, args: dict[str, Any]) -> web.Response:
        channel = args["channel"]
        if channel in self.not_in_channel:
            return _error("not_in_channel")
        message = self._bot_message(args, text=args.get("text", ""))
        return _ok(channel=channel, ts=message["ts"], message=message)

    def _chat_start_stream(self, args: dict[str, Any]) -> web.Response:
        if self.refuse_streams:
            return _error("channel_type_not_supported")
        message = self._bot_message(args, text=args.get("markdown_text", ""))
        message["streaming"] = True
        return _ok(channel=args["channel"], ts=message["ts"])

    def _chat_append_stream(self, args: dict[str, Any]) -> web.Response:
        message = self._find(args["channel"], args["ts"])
        if message is None:
            return _error("message_not_found")
        appended = self._appends.get(message["ts"], 0) + 1
        self._appends[message["ts"]] = appended
        limit = self.expire_stream_after_appends
        if limit is not None and appended > limit:
            message["streaming"] = False
        if not message.get("streaming"):
            return _error("message_not_in_streaming_state")
        message["text"] += args.get("markdown_text", "")
        return _ok(channel=args["channel"], ts=message["ts"])

    def _chat_stop_stream(self, args: dict[str, Any]) -> web.Response:
        message = self._find(args["channel"], args["ts"])
        if message is None:
            return _error("message_not_found")
        if not message.get("streaming"):
            return _error("message_not_in_streaming_state")
        message["text"] += args.get("markdown_text", "")
        message["streaming"] = False
        message["blocks"] = args.get("blocks") or []
        message["metadata"] = args.get("metadata")
        return _ok(channel=args["channel"], ts=message["ts"])

    def _chat_update(self, args: dict[str, Any]) -> web.Response:
        message = self._find(args["channel"], args["ts"])
        if message is None:
            return _error("message_not_found")
        message["text"] = args.get("text", "")
        message["blocks"] = args.get("blocks") or []
        message["metadata"] = args.get("metadata")
        message["streaming"] = False
        return _ok(channel=args["channel"], ts=message["ts"])

    def _conversations_replies(self, args: dict[str, Any]) -> web.Response:
        thread = args["ts"]
        found = [
            m
            for m in self.messages.get(args["channel"], [])
            if m["ts"] == thread or m.get("thread_ts") == thread
        ]
        return _ok(messages=found, has_more=False, response_metadata={"next_cursor": ""})

    def _bot_message(self, args: dict[str, Any], *, text: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER,
            "bot_id": BOT_ID,
            "text": text,
            "ts": self.new_ts(),
            "blocks": args.get("blocks") or [],
            "metadata": args.get("metadata"),
        }
        if args.get("thread_ts"):
            message["thread_ts"] = args["thread_ts"]
        self.messages.setdefault(args["channel"], []).append(message)
        return message

    def _find(self, channel: str, ts: str) -> dict[str, Any] | None:
        return next((m for m in self.messages.get(channel, []) if m["ts"] == ts), None)

    # -- Socket Mode and response URLs ---------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._loop = asyncio.get_running_loop()
        self._sockets.append(socket)
        await socket.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    self.acks.append(json.loads(message.data))
        finally:
            self._sockets.remove(socket)
        return socket

    async def _respond(self, request: web.Request) -> web.Response:
        self.responses.append(await request.json())
        return web.Response(text="ok")


async def _arguments(request: web.Request) -> dict[str, Any]:
    """A Web API call's arguments, from JSON or a form (``metadata`` and ``blocks`` may come
    as JSON strings inside a form)."""
    if request.method == "GET":
        args: dict[str, Any] = dict(request.query)
    elif request.content_type == "application/json":
        args = await request.json()
    else:
        args = dict(await request.post())
        args.update(request.query)
        for name in ("blocks", "metadata"):
            if isinstance(args.get(name), str):
                args[name] = json.loads(args[name])
    return args


def _ok(**fields: Any) -> web.Response:
    return web.json_response({"ok": True, **fields})


def _error(error: str) -> web.Response:
    return web.json_response({"ok": False, "error": error})


@contextmanager
def fake_slack() -> Iterator[FakeSlack]:
    """A fake Slack served on a loopback port for the duration of the block."""
    fake = FakeSlack()
    with serve(fake.app()) as server:
        fake.url = server.url
        yield fake
