"""``searchqa serve``: the app under uvicorn, one process or several workers sharing Redis."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket

import uvicorn
from litestar import Litestar

from searchqa.api.app import create_app
from searchqa.api.logs import configure_logging, log_config
from searchqa.errors import InvalidRequestError
from searchqa.index.seed import seed_index_if_empty
from searchqa.settings import Settings
from searchqa.slack.bot import check_http_settings

APP_FACTORY = "searchqa.api.serve:app_from_environment"
REQUEST_HEAD_BYTES = 64 * 1024
"""Most of a request head (request line and headers) the server reads before answering 400
itself: httptools stops near 64 KiB; h11 is raised from its 16 KiB to match. Longer URLs up to
this get the application's own 414 (``limits.MAX_URL_BYTES``)."""
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


def check_can_listen(host: str, port: int) -> None:
    """Refuse an address that cannot be listened on (a port in use), before uvicorn starts
    and logs; binds the way uvicorn does (SO_REUSEADDR), then lets go."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise InvalidRequestError(
            f"cannot listen on {host}: {exc.strerror}", code="bad_address"
        ) from exc
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    message = f"port {port} on {host} is already in use"
                    raise InvalidRequestError(message, code="port_in_use") from exc
                raise InvalidRequestError(
                    f"cannot listen on {host} port {port}: {exc.strerror or exc}",
                    code="bad_address",
                ) from exc


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
    host = host or server.host
    port = port if port is not None else server.port
    check_workers(settings, workers)
    check_http_settings(settings.slack)
    check_can_listen(host, port)
    configure_logging()
    asyncio.run(seed_index_if_empty(settings))
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        timeout_graceful_shutdown=round(server.shutdown_grace_s + SHUTDOWN_MARGIN_S),
        log_level="info",
        log_config=log_config(),
        access_log=False,  # searchqa.access logs each request with its route and request id
        lifespan="on",
        proxy_headers=False,  # X-Forwarded-For is judged by SEARCHQA_AUTH__TRUSTED_PROXIES
        h11_max_incomplete_event_size=REQUEST_HEAD_BYTES,
    )
    return 0
