"""``searchqa serve`` and its fakes, run as separate processes for the service benchmarks.

``run_service`` starts one worker on a free loopback port with settings that point it at a
simulated world (``bench.simweb.run_world``: fake SGLang and fake SearXNG in their own process)
and nothing else; ``rss_bytes`` and ``cpu_seconds`` read the server process from /proc.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import aiohttp

from bench.simweb import World
from tests.fakes.redis import RedisServer

SERVICE_START_S = 60.0

State = Literal["in-process", "redis"]
"""Where the server keeps its shared state."""


@contextlib.contextmanager
def state_env(state: State) -> Iterator[dict[str, str]]:
    """Settings for the server's shared state: none (in-process) or a redis-server of its own."""
    if state == "in-process":
        yield {}
        return
    with tempfile.TemporaryDirectory(prefix="searchqa-redis-") as workdir:
        redis = RedisServer(Path(workdir)).start()
        try:
            yield {"SEARCHQA_REDIS__URL": redis.url}
        finally:
            redis.kill()


@dataclass(frozen=True, slots=True)
class Service:
    """A running ``searchqa serve`` process."""

    url: str
    pid: int


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def service_env(world: World, **extra: str) -> dict[str, str]:
    """The environment that points ``searchqa serve`` at ``world``'s fakes, nothing else."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SEARCHQA_")}
    return env | {
        "SEARCHQA_LLM__BASE_URL": world.llm_base_url,
        "SEARCHQA_SEARCH__ENGINES": "searxng",
        "SEARCHQA_SEARCH__SEARXNG_URL": world.searxng_url,
        "SEARCHQA_SERVER__SHUTDOWN_GRACE_S": "0",
        "SEARCHQA_AUTH__ANONYMOUS_RATE_LIMIT": "0",  # one client address sends everything
        **extra,
    }


@contextlib.asynccontextmanager
async def run_service(env: dict[str, str], *, workers: int = 1) -> AsyncIterator[Service]:
    """``searchqa serve`` (``workers`` workers; more than one needs Redis in ``env``) on a free
    loopback port until the block ends."""
    port = free_port()
    command = [sys.executable, "-m", "searchqa.cli", "serve", "--host", "127.0.0.1"]
    with tempfile.TemporaryDirectory(prefix="searchqa-bench-") as workdir:
        log_path = Path(workdir, "serve.log")
        with _log_file(log_path) as log:
            process = await asyncio.create_subprocess_exec(
                *command, "--port", str(port), "--workers", str(workers),
                env=env,
                cwd=workdir,  # no stray .env file is read
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            await _wait_until_healthy(url, process, log_path)
            yield Service(url, process.pid)
        finally:
            if process.returncode is None:
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()


def _log_file(path: Path) -> BinaryIO:
    return path.open("wb")


def _log_tail(path: Path) -> str:
    return path.read_text(errors="replace")[-2000:]


async def _wait_until_healthy(url: str, process: asyncio.subprocess.Process, log: Path) -> None:
    deadline = time.monotonic() + SERVICE_START_S
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline and process.returncode is None:
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url + "/healthz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    tail = _log_tail(log)
    raise RuntimeError(f"searchqa serve did not start (exit {process.returncode}):\n{tail}")


def rss_bytes(pid: int) -> int:
    """Resident set size of process ``pid`` (VmRSS in /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def client_session(*, timeout_s: float = 120) -> aiohttp.ClientSession:
    """A client that holds as many connections as asked (no pool limit)."""
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
    return aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=timeout_s)
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of process ``pid`` and its live descendants (a server's workers)."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            total += cpu_seconds(current)
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue  # it ended meanwhile
    return total
