"""deploy/k8s/, rendered by kustomize and checked against Kubernetes' own schemas (strict)."""

from __future__ import annotations

import copy
import ipaddress
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from searchqa.settings import LLMSettings
from tests.deploy.sglang_cli import router_flags
from tests.deploy.stack import (
    OVERLAYS,
    PROFILE_MOUNT,
    PROFILES,
    ROUTER_IMAGE,
    SGLANG_IMAGE,
    ToolError,
    containers,
    kustomize,
    load_profile,
    placement,
    pod_templates,
    profile_in,
    profile_paths,
    validate_k8s,
)
from tests.deploy.test_compose import searchqa_variables_are_settings

ONE_NODE, TWO_NODES = OVERLAYS
SGLANG_HEALTH_WINDOW_S = 20
"""SGLang's /health waits this long for its one-token generation (SGLANG_HEALTH_CHECK_TIMEOUT)."""


@cache
def rendered(overlay: Path) -> tuple[dict[str, Any], ...]:
    return tuple(kustomize(overlay))


def find(overlay: Path, kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [
        doc
        for doc in rendered(overlay)
        if doc["kind"] == kind and name in (None, doc["metadata"]["name"])
    ]
    assert len(matches) == 1, f"{len(matches)} {kind} {name or ''} in {overlay.name}"
    return copy.deepcopy(matches[0])


def labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda path: path.name)
def test_every_manifest_passes_strict_schema_validation(overlay: Path) -> None:
    docs = rendered(overlay)
    assert {doc["metadata"].get("namespace") for doc in docs if doc["kind"] != "Namespace"} == {
        "searchqa"
    }
    for doc in docs:
        validate_k8s(doc)


def check_gpus(doc: dict[str, Any]) -> int:
    """A workload's SGLang pods ask for the profile's GPUs per node, one pod per node;
    returns how many SGLang containers it has."""
    seen = 0
    for _, container in containers(doc):
        if not container["image"].startswith(SGLANG_IMAGE):
            continue
        where = placement(load_profile(PROFILES / f"{profile_in(container['args'])}.yaml"))
        resources = container["resources"]
        for side in ("limits", "requests"):
            assert resources[side]["nvidia.com/gpu"] == where.per_node, "GPUs disagree"
        pods = doc["spec"]["leaderWorkerTemplate"]["size"] if doc["kind"] != "Deployment" else 1
        assert pods == where.nodes, "one pod per node of the profile"
        seen += 1
    return seen


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda path: path.name)
def test_sglang_pods_request_the_gpus_their_profile_uses(overlay: Path) -> None:
    seen = sum(check_gpus(doc) for doc in rendered(overlay))
    assert seen == (1 if overlay == ONE_NODE else 2)


def test_a_pod_asking_for_other_gpus_than_its_profile_fails() -> None:
    deployment = find(ONE_NODE, "Deployment", "sglang")
    assert check_gpus(deployment) == 1
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    container["resources"]["limits"]["nvidia.com/gpu"] = 4
    with pytest.raises(AssertionError, match="GPUs disagree"):
        check_gpus(deployment)


def test_a_group_of_other_size_than_the_profiles_nodes_fails() -> None:
    lws = find(TWO_NODES, "LeaderWorkerSet")
    assert check_gpus(lws) == 2
    lws["spec"]["leaderWorkerTemplate"]["size"] = 1
    with pytest.raises(AssertionError, match="one pod per node"):
        check_gpus(lws)


def test_the_leaderworkerset_takes_rank_and_rendezvous_from_its_environment() -> None:
    lws = find(TWO_NODES, "LeaderWorkerSet")
    group = lws["spec"]["leaderWorkerTemplate"]
    assert group["restartPolicy"] == "RecreateGroupOnPodRestart"
    for role, template in pod_templates(lws):
        [container] = template["spec"]["containers"]
        args = container["args"]
        assert args[args.index("--node-rank") + 1] == "$(LWS_WORKER_INDEX)"
        assert args[args.index("--dist-init-addr") + 1].startswith("$(LWS_LEADER_ADDRESS):")
        probes = {container[name]["httpGet"]["path"] for name in container if "Probe" in name}
        assert probes == ({"/ready", "/health"} if role == "leader" else {"/ping", "/health"})


def test_the_profiles_configmap_is_the_profile_files() -> None:
    for overlay in OVERLAYS:
        data = find(overlay, "ConfigMap", "sglang-profiles")["data"]
        assert data == {path.name: path.read_text() for path in profile_paths()}
        for doc in rendered(overlay):
            for role, template in pod_templates(doc):
                spec = template["spec"]
                for container in spec["containers"]:
                    if not container["image"].startswith(SGLANG_IMAGE):
                        continue
                    assert f"{profile_in(container['args'])}.yaml" in data
                    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
                    assert mounts["profiles"] + "/" == PROFILE_MOUNT
                    assert mounts["dshm"] == "/dev/shm", role
                volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
                if "profiles" in volumes:
                    assert volumes["profiles"]["configMap"]["name"] == "sglang-profiles"


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda path: path.name)
def test_the_router_waits_for_long_answers_and_finds_the_serving_pods(overlay: Path) -> None:
    router = find(overlay, "Deployment", "sglang-router")
    [container] = router["spec"]["template"]["spec"]["containers"]
    assert container["image"].startswith(ROUTER_IMAGE)
    args = router_flags().check(
        [arg.replace("$(POD_NAMESPACE)", "searchqa") for arg in container["args"]]
    )
    assert args.request_timeout_secs > LLMSettings().total_timeout_s
    assert args.health_check_timeout_secs > SGLANG_HEALTH_WINDOW_S
    assert args.service_discovery
    selector = dict(item.split("=", 1) for item in args.selector)
    serving: list[str] = []
    idle: list[str] = []
    for doc in rendered(overlay):
        for role, template in pod_templates(doc):
            if doc["metadata"].get("labels", {}).get("app.kubernetes.io/name") == "sglang":
                labels = template["metadata"]["labels"]
                (serving if labels_match(selector, labels) else idle).append(role)
    assert serving == (["pod"] if overlay == ONE_NODE else ["leader"])
    assert idle == ([] if overlay == ONE_NODE else ["worker"])
    rbac = find(overlay, "Role", "sglang-router")
    assert {"list", "watch"} <= set(rbac["rules"][0]["verbs"])


def test_searchqa_scales_drains_and_probes_itself() -> None:
    deployment = find(ONE_NODE, "Deployment", "searchqa")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    hpa = find(ONE_NODE, "HorizontalPodAutoscaler", "searchqa")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "searchqa"
    assert hpa["spec"]["minReplicas"] >= 2
    pdb = find(ONE_NODE, "PodDisruptionBudget", "searchqa")
    assert labels_match(pdb["spec"]["selector"]["matchLabels"], labels)
    assert labels_match(find(ONE_NODE, "Service", "searchqa")["spec"]["selector"], labels)

    settings_map = find(ONE_NODE, "ConfigMap", "searchqa-settings")
    assert {"configMapRef": {"name": "searchqa-settings"}} in container["envFrom"]
    settings = searchqa_variables_are_settings(settings_map["data"])
    llm = urlsplit(settings.llm.base_url or "")
    router_service = find(ONE_NODE, "Service", "sglang-router")
    assert (llm.hostname, llm.port) == ("sglang-router", router_service["spec"]["ports"][0]["port"])
    redis_service = find(ONE_NODE, "Service", "redis")
    assert urlsplit(settings.redis.url or "").hostname == redis_service["metadata"]["name"]
    assert settings.server.workers > 1


def egress_allows(policy: dict[str, Any], address: str, port: int) -> bool:
    """Whether a NetworkPolicy's ipBlock rules let ``address:port`` out."""
    ip = ipaddress.ip_address(address)
    for rule in policy["spec"]["egress"]:
        ports = {entry["port"] for entry in rule.get("ports", [])}
        if ports and port not in ports:
            continue
        for peer in rule.get("to", []):
            block = peer.get("ipBlock")
            if not block or ip.version != ipaddress.ip_network(block["cidr"]).version:
                continue
            inside = ip in ipaddress.ip_network(block["cidr"])
            excepted = any(ip in ipaddress.ip_network(cidr) for cidr in block.get("except", []))
            if inside and not excepted:
                return True
    return False


def test_searchqa_reaches_the_web_but_not_the_cluster_or_metadata() -> None:
    policy = find(ONE_NODE, "NetworkPolicy", "searchqa-egress")
    assert policy["spec"]["policyTypes"] == ["Egress"]
    assert egress_allows(policy, "93.184.215.14", 443)
    assert egress_allows(policy, "2606:2800:21f:cb07:6820:80da:af6b:8b2c", 80)
    assert not egress_allows(policy, "93.184.215.14", 22)
    for inside in [
        "169.254.169.254",  # AWS, GCP, Azure metadata
        "100.100.100.200",  # Alibaba metadata
        "10.96.0.1",  # a typical service CIDR
        "172.20.3.4",
        "192.168.1.10",
        "127.0.0.1",
        "fd00:ec2::254",  # AWS IPv6 metadata
        "fe80::1",
        "::ffff:10.0.0.1",
    ]:
        assert not egress_allows(policy, inside, 443), inside
    peers = [peer for rule in policy["spec"]["egress"] for peer in rule.get("to", [])]
    selected = [peer["podSelector"]["matchLabels"] for peer in peers if "podSelector" in peer]
    for name in ("redis", "sglang-router"):
        pod_labels = find(ONE_NODE, "Deployment", name)["spec"]["template"]["metadata"]["labels"]
        assert any(labels_match(labels, pod_labels) for labels in selected), name


def test_the_ingress_streams_without_buffering_for_long_answers() -> None:
    annotations = find(ONE_NODE, "Ingress", "searchqa")["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    assert annotations[prefix + "proxy-buffering"] == "off"
    for timeout in ("proxy-read-timeout", "proxy-send-timeout"):
        assert int(annotations[prefix + timeout]) > LLMSettings().total_timeout_s


@pytest.mark.parametrize(
    ("kind", "name", "path", "value"),
    [
        ("Deployment", "searchqa", ["spec", "replica"], 2),  # a misspelt field
        ("Deployment", "searchqa", ["spec", "replicas"], "two"),
        ("HorizontalPodAutoscaler", "searchqa", ["spec", "minReplicas"], "2"),
        ("NetworkPolicy", "searchqa-egress", ["spec", "egress", 0, "to", 0, "pod"], {}),
    ],
)
def test_a_broken_manifest_fails(kind: str, name: str, path: list[Any], value: Any) -> None:
    doc = find(ONE_NODE, kind, name)
    validate_k8s(doc)
    target: Any = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    with pytest.raises(ToolError):
        validate_k8s(doc)


def test_a_broken_leaderworkerset_pod_template_fails() -> None:
    lws = find(TWO_NODES, "LeaderWorkerSet")
    worker = lws["spec"]["leaderWorkerTemplate"]["workerTemplate"]
    worker["spec"]["containers"][0]["resource"] = {"limits": {"nvidia.com/gpu": 8}}
    with pytest.raises(ToolError, match="resource"):
        validate_k8s(lws)
