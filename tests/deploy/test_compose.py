"""deploy/compose.yaml, resolved by the real Compose v2 binary (no Docker daemon needed)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from searchqa.settings import Settings
from tests.deploy.sglang_cli import sglang_flags
from tests.deploy.stack import (
    COMPOSE,
    DEPLOY,
    PROFILES,
    TWO_NODES,
    ToolError,
    compose_check,
    compose_config,
    compose_files,
    env_files,
    env_values,
    load_profile,
    placement,
    profile_in,
)

NODE = {"SGLANG_NODE_RANK": "0", "SGLANG_DIST_INIT_ADDR": "10.0.0.1:20000"}


def resolved(env_file: Path, **env: str) -> dict[str, Any]:
    return compose_config(*compose_files(env_file), env_file=env_file, env=NODE | env)


def check_gpus(env_file: Path) -> None:
    """The GPUs Compose reserves on a node are the profile's tp x pp x dp / nnodes."""
    sglang = resolved(env_file)["services"]["sglang"]
    profile = load_profile(PROFILES / f"{profile_in(sglang['command'])}.yaml")
    [device] = sglang["deploy"]["resources"]["reservations"]["devices"]
    assert device["capabilities"] == ["gpu"]
    assert device["count"] == placement(profile).per_node, f"{env_file.name}: GPUs disagree"
    assert (TWO_NODES in compose_files(env_file)) == (placement(profile).nodes == 2)


@pytest.mark.parametrize("env_file", env_files(), ids=lambda path: path.stem)
def test_the_gpus_reserved_are_the_gpus_the_profile_uses(env_file: Path) -> None:
    check_gpus(env_file)
    assert env_values(env_file)["SGLANG_PROFILE"] == env_file.stem


def test_an_env_file_with_the_wrong_gpu_count_fails(tmp_path: Path) -> None:
    broken = tmp_path / "r1-tp8.env"
    broken.write_text("SGLANG_PROFILE=r1-tp8\nSGLANG_GPUS=4\n")
    with pytest.raises(AssertionError, match="GPUs disagree"):
        check_gpus(broken)


def test_sglang_runs_the_pinned_image_with_shared_memory_cache_and_readiness() -> None:
    sglang = resolved(DEPLOY / "env" / "r1-tp8.env")["services"]["sglang"]
    assert sglang["image"] == f"lmsysorg/sglang:v{sglang_flags().version}"
    assert sglang["ipc"] == "host"
    assert int(sglang["shm_size"]) >= 16 * 2**30  # Compose resolves sizes to bytes
    targets = {volume["target"]: volume for volume in sglang["volumes"]}
    assert targets["/root/.cache/huggingface"]["type"] == "volume"
    assert targets["/etc/sglang/profiles"]["source"] == str(PROFILES)
    assert "/ready" in " ".join(sglang["healthcheck"]["test"])


def test_redis_keeps_nothing_on_disk_and_evicts_only_expiring_keys() -> None:
    command = resolved(DEPLOY / "env" / "r1-tp8.env")["services"]["redis"]["command"]
    options = dict(zip(command[1::2], command[2::2], strict=True))
    assert options == {
        "--save": "",
        "--appendonly": "no",
        "--maxmemory": "1gb",
        "--maxmemory-policy": "volatile-lru",
    }


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def searchqa_variables_are_settings(values: dict[str, str]) -> Settings:
    """Every SEARCHQA_* name is a real setting, and the values pass its validation."""
    names = {name for name in values if name.startswith("SEARCHQA_")}
    for name in names:
        group, _, field = name.removeprefix("SEARCHQA_").lower().partition("__")
        model = type(getattr(Settings(), group, None))
        assert field in getattr(model, "model_fields", {}), f"{name} is no searchqa setting"
    with environment({name: values[name] for name in names}):
        return Settings()


def test_searchqa_is_wired_to_the_other_services() -> None:
    config = resolved(DEPLOY / "env" / "r1-tp8.env", COMPOSE_PROFILES="searxng")
    services = config["services"]
    searchqa = services["searchqa"]
    settings = searchqa_variables_are_settings(searchqa["environment"])

    llm = urlsplit(settings.llm.base_url or "")
    profile = load_profile(PROFILES / "r1-tp8.yaml")
    assert (llm.hostname, llm.port, llm.path) == ("sglang", profile["port"], "/v1")
    redis = urlsplit(settings.redis.url or "")
    assert (redis.hostname, redis.port) == ("redis", 6379)
    assert urlsplit(settings.search.searxng_url or "").hostname == "searxng"
    assert "searxng" in services
    assert settings.server.workers > 1  # shared state in Redis makes that safe
    assert settings.server.host == "0.0.0.0"
    assert searchqa["depends_on"]["redis"]["condition"] == "service_healthy"
    assert (DEPLOY.parent / searchqa["build"]["dockerfile"]).exists()


def test_searxng_is_optional() -> None:
    assert "searxng" not in resolved(DEPLOY / "env" / "r1-tp8.env")["services"]


def test_two_nodes_need_a_rank_and_the_first_nodes_address() -> None:
    env_file = DEPLOY / "env" / "r1-tp16-2node.env"
    with pytest.raises(ToolError, match="SGLANG_NODE_RANK"):
        compose_config(COMPOSE, TWO_NODES, env_file=env_file)
    sglang = resolved(env_file)["services"]["sglang"]
    assert sglang["network_mode"] == "host"
    assert "ports" not in sglang
    assert resolved(env_file)["services"]["searchqa"]["extra_hosts"] == ["sglang=host-gateway"]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("services:", "servics:"),
        ("condition: service_healthy", "condition: when_healthy"),
        ("    shm_size: 32gb", "    shm_size: plenty"),
        ("      redis:\n        condition", "      cache:\n        condition"),
    ],
    ids=["unknown-key", "bad-condition", "bad-size", "missing-service"],
)
def test_a_broken_compose_file_fails(tmp_path: Path, old: str, new: str) -> None:
    compose_check(COMPOSE)
    text = COMPOSE.read_text()
    assert old in text
    broken = tmp_path / "compose.yaml"
    broken.write_text(text.replace(old, new, 1))
    with pytest.raises(ToolError):
        compose_check(broken)
