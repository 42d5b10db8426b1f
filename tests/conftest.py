"""Fixtures shared by every test directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.redis import RedisServer, run_redis


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh, empty redis-server of this test's own (kill/freeze/restart it at will)."""
    workdir = tmp_path / "redis"
    workdir.mkdir()
    with run_redis(workdir) as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """URL of a fresh, empty redis-server of this test's own."""
    return redis_server.url
