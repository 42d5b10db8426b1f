"""The Litestar application: routes, dependencies, problem details and the lifespan.

The lifespan builds the answer kit and the shared state once per process and closes them on the
way out, after every answer of this process has ended. API keys, CORS and rate limits
(``searchqa.api.auth``) are always installed; extra guards and middleware passed to
``create_app`` wrap every route after them.

Graceful shutdown: a server stops accepting on SIGTERM/SIGINT but then waits for open
connections, which for event streams can take minutes. So the lifespan also hooks those signals
(in front of the server's own handler) to drain the sessions: no new answers, running ones get
``shutdown_grace_s`` to finish, then end with an ``error`` event ``shutting_down``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import AsyncIterator, Awaitable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from types import FrameType
from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.types import ControllerRouterHandler, Guard, Middleware

from searchqa import __version__
from searchqa.api.answer_routes import ANSWER_ROUTES
from searchqa.api.auth import AccessControl
from searchqa.api.health import ReadinessProbe, healthz, readyz
from searchqa.api.json_depth import limit_json_depth
from searchqa.api.limits import RequestTargetCheck
from searchqa.api.metrics import Metrics, metrics_endpoint
from searchqa.api.observe import observe_requests, observe_state, unrouted_observer
from searchqa.api.openai_routes import ANSWER_SOURCE, OpenAIController
from searchqa.api.openapi import openapi_config
from searchqa.api.problems import EXCEPTION_HANDLERS
from searchqa.api.slack_events import slack_events
from searchqa.api.slow_readers import drop_slow_readers
from searchqa.api.widget_routes import WIDGET_ROUTES
from searchqa.kit import AnswerKit
from searchqa.service.requests import AnswerSource
from searchqa.service.sessions import AnswerSessions
from searchqa.settings import Settings
from searchqa.slack.app import build_bolt_app
from searchqa.slack.bot import SlackBot, check_http_settings, web_client
from searchqa.state import build_state

MULTIPART_OVERHEAD_BYTES = 1024 * 1024
CLOSE_STEP_S = 10.0
"""How long one shutdown step may take before it is abandoned: the process must exit."""
log = logging.getLogger(__name__)


async def close_step(name: str, step: Awaitable[object], *, within_s: float = CLOSE_STEP_S) -> None:
    """Await one shutdown step; one that hangs is logged by name and left behind."""
    try:
        async with asyncio.timeout(within_s):
            await step
    except TimeoutError:
        log.warning("shutdown: closing the %s took over %g s; going on without it", name, within_s)


def _sessions(state: State) -> AnswerSessions:
    sessions: AnswerSessions = state.sessions
    return sessions


def _probe(state: State) -> ReadinessProbe:
    probe: ReadinessProbe = state.probe
    return probe


def _settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings


def _answer_source(state: State) -> AnswerSource:
    return _sessions(state).answer_events


@contextmanager
def drain_on_signals(sessions: AnswerSessions) -> Iterator[None]:
    """While active, SIGTERM and SIGINT start draining before the server's own handler runs."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only (tests run apps elsewhere)
        return
    loop = asyncio.get_running_loop()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def on_signal(sig: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(sessions.begin_drain)
        handler = previous[signal.Signals(sig)]
        if callable(handler):
            handler(sig, frame)

    for sig, handler in previous.items():
        if callable(handler):
            signal.signal(sig, on_signal)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            if callable(handler) and signal.getsignal(sig) is on_signal:
                signal.signal(sig, handler)


def create_app(
    settings: Settings | None = None,
    *,
    guards: Sequence[Guard] = (),
    middleware: Sequence[Middleware] = (),
    route_handlers: Sequence[ControllerRouterHandler] = (),
) -> Litestar:
    """The HTTP service for ``settings`` (read from the environment when None)."""
    settings = settings or Settings()
    slack_on = check_http_settings(settings.slack)
    access = AccessControl.from_settings(settings.auth)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        state = observe_state(build_state(settings.redis), metrics)
        kit = AnswerKit.from_settings(settings, cache=state.cache)
        metrics.start(state.counters)
        sessions = AnswerSessions(kit=kit, state=state, settings=settings)
        app.state.sessions = sessions
        app.state.probe = ReadinessProbe(kit=kit, state=state)
        app.state.limiter = state.limiter
        slack: SlackBot | None = None
        if slack_on:
            slack = SlackBot(
                sessions=sessions, state=state, settings=settings, client=web_client(settings)
            )
            app.state.slack_app = build_bolt_app(slack, settings.slack, socket_mode=False)
        access.announce()
        log.info("serving answers with %s state", state.kind)
        # Start the extraction workers now, in the background, not on the first question.
        warm_up = asyncio.create_task(kit.extractor.warm_up())
        try:
            with drain_on_signals(sessions):
                yield
        finally:
            warm_up.cancel()
            await asyncio.gather(warm_up, return_exceptions=True)
            await close_step("answer sessions", sessions.aclose())
            if slack is not None:
                await close_step("slack bot", slack.aclose())
            await close_step("metrics", metrics.aclose())
            await close_step("shared state", state.aclose())
            await close_step("answer kit", kit.aclose())

    provide: dict[str, Any] = {
        "sessions": Provide(_sessions, sync_to_thread=False),
        "probe": Provide(_probe, sync_to_thread=False),
        "settings": Provide(_settings, sync_to_thread=False),
        ANSWER_SOURCE: Provide(_answer_source, sync_to_thread=False),
    }
    return Litestar(
        route_handlers=[
            *ANSWER_ROUTES,
            healthz,
            readyz,
            metrics_endpoint,
            OpenAIController,
            *WIDGET_ROUTES,
            *([slack_events] if slack_on else []),
            *route_handlers,
        ],
        dependencies=provide,
        exception_handlers=EXCEPTION_HANDLERS,
        guards=[access.guard, *guards],
        middleware=[
            observe_requests(metrics),
            RequestTargetCheck(),
            drop_slow_readers(settings.server.slow_reader_s),
            limit_json_depth(),
            *middleware,
        ],
        cors_config=access.cors,
        before_send=[*access.before_send, unrouted_observer(metrics)],
        lifespan=[lifespan],
        state=State({"settings": settings, "metrics": metrics}),
        request_max_body_size=settings.server.max_upload_bytes + MULTIPART_OVERHEAD_BYTES,
        openapi_config=openapi_config(__version__),
        logging_config=None,  # the process configures logging (searchqa serve: JSON lines)
    )
