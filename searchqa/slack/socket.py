"""``searchqa slack``: the bot over Socket Mode, for development and firewalled installs.

Slack pushes events through a WebSocket the bot opens (``apps.connections.open`` with the
app-level token), so no public URL is needed. The answer service is the one ``serve`` builds:
same kit, same shared state (Redis when configured), same sessions. SIGTERM and SIGINT drain
it: no new answers, running ones get ``shutdown_grace_s`` to finish.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import suppress

from slack_bolt.adapter.socket_mode.websockets import AsyncSocketModeHandler

from searchqa.errors import InvalidRequestError
from searchqa.index.seed import seed_index_if_empty
from searchqa.kit import AnswerKit
from searchqa.service.sessions import AnswerSessions
from searchqa.settings import Settings
from searchqa.slack.app import build_bolt_app
from searchqa.slack.bot import SlackBot, web_client
from searchqa.state import build_state

log = logging.getLogger(__name__)


def check_socket_settings(settings: Settings) -> str:
    """The app-level token; refuses a configuration Socket Mode cannot run with."""
    slack = settings.slack
    if slack.bot_token is None or slack.app_token is None:
        raise InvalidRequestError(
            "Socket Mode needs SEARCHQA_SLACK__BOT_TOKEN (xoxb-...) and "
            "SEARCHQA_SLACK__APP_TOKEN (xapp-..., with the connections:write scope)",
            code="slack_settings",
        )
    app_token = slack.app_token.get_secret_value()
    if not app_token.startswith("xapp-"):
        raise InvalidRequestError(
            "SEARCHQA_SLACK__APP_TOKEN must be an app-level token (xapp-...)",
            code="slack_settings",
        )
    return app_token


async def run_socket_mode(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Answer Slack over Socket Mode until SIGTERM/SIGINT (or ``stop``)."""
    app_token = check_socket_settings(settings)
    stop = stop or asyncio.Event()
    await seed_index_if_empty(settings)
    state = build_state(settings.redis)
    kit = AnswerKit.from_settings(settings, cache=state.cache)
    sessions = AnswerSessions(kit=kit, state=state, settings=settings)
    bot = SlackBot(sessions=sessions, state=state, settings=settings, client=web_client(settings))
    handler = AsyncSocketModeHandler(
        build_bolt_app(bot, settings.slack, socket_mode=True), app_token
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await handler.connect_async()  # type: ignore[no-untyped-call]
        log.warning("searchqa slack: connected over Socket Mode; Ctrl-C stops")
        await stop.wait()
        sessions.begin_drain()
        await handler.disconnect_async()  # type: ignore[no-untyped-call]
        await bot.aclose(timeout_s=settings.server.shutdown_grace_s + 5)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
        await handler.close_async()  # type: ignore[no-untyped-call]
        await sessions.aclose()
        await state.aclose()
        await kit.aclose()
