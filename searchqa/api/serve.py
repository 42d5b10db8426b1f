"""``searchqa serve``: the app under uvicorn, one process or several workers sharing Redis."""

from __future__ import annotations

import asyncio
import logging

import uvicorn
from litestar import Litestar

from searchqa.api.app import create_app
from searchqa.api.logs import configure_logging, log_config
from searchqa.errors import InvalidRequestError
from searchqa.index.seed import seed_index_if_empty
from searchqa.settings import Settings

APP_FACTORY = "searchqa.api.serve:app_from_environment"
SHUTDOWN_MARGIN_S = 3.0
"""Time after the drain deadline for streams to close before uvicorn cancels what is left."""
log = logging.getLogger(__name__)


def app_from_environment() -> Litestar:
    """The app for the settings in the environment (uvicorn's factory, once per worker)."""
    logging.captureWarnings(True)  # uvicorn set up JSON logging; warnings go there too
    return create_app(Settings())


def check_workers(settings: Settings, workers: int) -> None:
    """More than one worker needs Redis: streams, caches and limits must be shared."""
    if workers > 1 and not settings.redis.url:
        raise InvalidRequestError(
            f"{workers} workers need Redis to share answers, caches and rate limits: set "
            "SEARCHQA_REDIS__URL (e.g. redis://localhost:6379/0), or run one worker",
            code="workers_need_redis",
        )


def serve(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
) -> int:
    """Run the service until SIGTERM or SIGINT; returns the exit code."""
    server = settings.server
    workers = workers or server.workers
    check_workers(settings, workers)
    configure_logging()
    asyncio.run(seed_index_if_empty(settings))
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host or server.host,
        port=port if port is not None else server.port,
        workers=workers,
        timeout_graceful_shutdown=round(server.shutdown_grace_s + SHUTDOWN_MARGIN_S),
        log_level="info",
        log_config=log_config(),
        access_log=False,  # searchqa.access logs each request with its route and request id
        lifespan="on",
        proxy_headers=False,  # X-Forwarded-For is judged by SEARCHQA_AUTH__TRUSTED_PROXIES
    )
    return 0
