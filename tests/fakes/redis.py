"""A real redis-server on a free loopback port, in a temporary directory, without persistence.

Tests can kill it (or freeze it, to stage a hung Redis) and restart it on the same port, which
comes back empty: a restart loses everything, as a cache-only Redis does.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One redis-server process; ``kill``, ``freeze``/``thaw`` and ``start`` again at will."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = _free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._started = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> RedisServer:
        """Start (or start again, on the same port, empty)."""
        for _ in range(3):
            if self._spawn():
                self._started = True
                return self
            if not self._started:
                self.port = _free_port()  # someone took the port meanwhile
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def _spawn(self) -> bool:
        options = {
            "port": str(self.port),
            "bind": "127.0.0.1",
            "save": "",
            "appendonly": "no",
            "dir": str(self.workdir),
            "logfile": str(self.workdir / "redis.log"),
        }
        self._process = subprocess.Popen(
            [
                REDIS_SERVER,
                *(arg for name, value in options.items() for arg in (f"--{name}", value)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self._process.poll() is None:
            if _answers_ping(self.port):
                return True
            time.sleep(0.01)
        self.kill()
        return False

    def kill(self) -> None:
        """SIGKILL: connections drop at once, nothing is saved."""
        if self._process is not None and self._process.poll() is None:
            os.kill(self._process.pid, signal.SIGCONT)
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None

    def freeze(self) -> None:
        """SIGSTOP: the port stays open but nothing answers (a hung Redis)."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        self.kill()
        self.start()


@contextmanager
def run_redis(workdir: Path) -> Iterator[RedisServer]:
    """A running server for the duration of the block; skipped where redis-server is missing."""
    if not Path(REDIS_SERVER).exists():
        pytest.skip("redis-server is not installed")
    server = RedisServer(workdir).start()
    try:
        yield server
    finally:
        server.kill()
