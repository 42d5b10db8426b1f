"""Every SGLang and sglang-router flag written anywhere in deploy/ parses in the pinned
releases (sglang 0.5.23, sglang-router 0.3.2), written in full, none deprecated.

The flag tables are the real parsers' options (``deploy/tools/sglang_flags.py``); the command
lines are read where they live: the profiles as ``--config`` reads them, Compose as Compose
resolves it, Kubernetes as kustomize renders it, and the README's code blocks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.deploy.sglang_cli import CommandLineError, FlagTable, router_flags, sglang_flags
from tests.deploy.stack import (
    DEPLOY,
    OVERLAYS,
    ROUTER_IMAGE,
    SGLANG_IMAGE,
    TWO_NODES,
    compose_config,
    compose_files,
    containers,
    env_files,
    expand,
    kustomize,
    launcher_args,
    load_profile,
    markdown_command_lines,
    profile_in,
    profile_paths,
    profiles,
)

# What the LeaderWorkerSet controller and the downward API put in the pods' environment.
POD_ENVIRONMENT = {
    "LWS_LEADER_ADDRESS": "sglang-r1-0.sglang-r1.searchqa",
    "LWS_WORKER_INDEX": "1",
    "POD_NAMESPACE": "searchqa",
}
NODE_ENVIRONMENT = {"SGLANG_NODE_RANK": "1", "SGLANG_DIST_INIT_ADDR": "10.0.0.1:20000"}


def check_server(argv: list[str]) -> Any:
    """Parse a server command line with its ``--config`` profile merged in, as SGLang does."""
    flags = sglang_flags()
    if "--config" in argv:
        at = argv.index("--config")
        profile = load_profile(DEPLOY / "sglang" / f"{profile_in(argv)}.yaml")
        argv = flags.config_argv(profile) + argv[:at] + argv[at + 2 :]
    return flags.check(argv)


def test_the_flag_tables_are_the_pinned_releases() -> None:
    assert (sglang_flags().package, sglang_flags().version) == ("sglang", "0.5.23")
    assert (router_flags().package, router_flags().version) == ("sglang-router", "0.3.2")
    server = sglang_flags().by_flag()
    assert {"--tp-size", "--attn-dp-size", "--max-queued-requests", "--config"} <= set(server)
    assert "--enable-ep-moe" not in server
    assert "--stream-output" not in server


@pytest.mark.parametrize("path", profile_paths(), ids=lambda path: path.stem)
def test_every_profile_parses_as_a_config_file(path: Path) -> None:
    flags = sglang_flags()
    parsed = flags.check(flags.config_argv(load_profile(path)))
    assert parsed.reasoning_parser == "deepseek-r1"
    assert parsed.enable_metrics is True


def test_compose_command_lines_parse() -> None:
    seen = set()
    for env_file in env_files():
        files = compose_files(env_file)
        config = compose_config(*files, env_file=env_file, env=NODE_ENVIRONMENT)
        command = config["services"]["sglang"]["command"]
        kind, args = launcher_args(command)
        assert kind == "server"
        parsed = check_server(args)
        seen.add(profile_in(args))
        if TWO_NODES in files:
            assert (parsed.node_rank, parsed.dist_init_addr) == (1, "10.0.0.1:20000")
    assert seen == set(profiles()), "every profile runs under Compose through an env file"


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda path: path.name)
def test_kubernetes_command_lines_parse(overlay: Path) -> None:
    checked = {"server": 0, "router": 0}
    for doc in kustomize(overlay):
        for _, container in containers(doc):
            argv = expand(container.get("command", []) + container.get("args", []),
                          POD_ENVIRONMENT)  # fmt: skip
            image = container["image"]
            if image.startswith(SGLANG_IMAGE):
                kind, args = launcher_args(argv)
                check_server(args)
            elif image.startswith(ROUTER_IMAGE):  # the image's entrypoint is launch_router
                kind = "router"
                router_flags().check(argv)
            else:
                continue
            checked[kind] += 1
    assert checked["server"] >= 1
    assert checked["router"] == 1


def test_readme_command_lines_parse() -> None:
    commands = [
        command
        for document in [*DEPLOY.rglob("*.md"), DEPLOY.parent / "README.md"]
        for command in markdown_command_lines(document)
    ]
    assert len(commands) >= 3
    for command in commands:
        kind, args = launcher_args(command)
        if kind == "router":
            router_flags().check(args)
        else:
            check_server(args)


# --- what the check refuses -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--tp", "8"], "no flag --tp"),  # a prefix: the real parser accepts it, we do not
        (["--enable-ep-moe"], "no flag --enable-ep-moe"),  # removed
        (["--stream-output"], "no flag --stream-output"),
        (["--cuda-graph-max-bs", "64"], "no flag --cuda-graph-max-bs"),  # now ambiguous
        (["--enable-dp-attention"], "deprecated"),
        (["--ep", "8"], "write --ep in full: --ep-size"),
        (["--reasoning-parser", "deepseek_r1"], "invalid choice"),
        (["--tp-size", "eight"], "invalid int value"),
        (["--tp-size"], "expected one argument"),
    ],
)
def test_the_check_refuses_what_sglang_would_not_run_as_written(
    argv: list[str], complaint: str
) -> None:
    with pytest.raises(CommandLineError, match=complaint):
        sglang_flags().check(argv)


def test_a_broken_profile_fails(tmp_path: Path) -> None:
    good = load_profile(DEPLOY / "sglang" / "r1-tp8.yaml")
    flags: FlagTable = sglang_flags()
    for key, value in [("tp_size", 8), ("enable-dp-attention", True), ("tp", 8)]:
        broken = good | {key: value}
        with pytest.raises(CommandLineError):
            flags.check(flags.config_argv(broken))
    with pytest.raises(CommandLineError, match="cannot set"):
        flags.config_argv(good | {"enable-tf32-matmul": True})  # a --flag/--no-flag switch


def test_the_router_check_refuses_old_and_misspelt_flags() -> None:
    with pytest.raises(CommandLineError, match="no flag"):
        router_flags().check(["--request-timeout", "3900"])  # a prefix
    with pytest.raises(CommandLineError, match="invalid choice"):
        router_flags().check(["--policy", "least_load"])
