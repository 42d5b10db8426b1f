"""The SGLang launch profiles: what every one must set for searchqa, and what each is for."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from searchqa.settings import LLMSettings, PackSettings
from tests.deploy.stack import (
    DEPLOY,
    PROFILES,
    ToolError,
    load_profile,
    placement,
    profile_paths,
    profiles,
)

TEMPLATE_AND_TURNS_TOKENS = 4096
"""Room for the prompt besides page text: DeepSeek's template (about 500 tokens), the page
headers, the question and earlier turns."""
PROMPT_BUDGET = PackSettings().total_tokens + TEMPLATE_AND_TURNS_TOKENS
OUTPUT_BUDGET = LLMSettings().max_tokens
README = DEPLOY / "README.md"


@pytest.mark.parametrize("path", profile_paths(), ids=lambda path: path.stem)
def test_each_profile_serves_searchqa_well(path: Path) -> None:
    profile = load_profile(path)
    assert profile["reasoning-parser"] == "deepseek-r1"
    assert profile["enable-metrics"] is True
    assert profile["context-length"] >= PROMPT_BUDGET + OUTPUT_BUDGET == 45_056
    assert profile["max-running-requests"] >= 1
    assert profile["max-queued-requests"] >= 1
    assert (profile["host"], profile["port"]) == ("0.0.0.0", 30000)
    assert str(profile["model-path"]).startswith("deepseek-ai/DeepSeek-R1")
    assert placement(profile).per_node in (1, 2, 4, 8)


@pytest.mark.parametrize("path", profile_paths(), ids=lambda path: path.stem)
def test_each_profile_says_when_to_choose_it(path: Path) -> None:
    header = re.match(r"(?:#.*\n)+", path.read_text())
    assert header, f"{path.name} starts with no comment"
    assert re.search(r"^# Choose this when: \S", header.group(), re.MULTILINE)
    stated = re.search(r"^# GPUs: (\d+)", header.group(), re.MULTILINE)
    assert stated, f"{path.name} does not say how many GPUs it takes"
    assert int(stated.group(1)) == placement(load_profile(path)).total


def test_the_profiles_cover_r1_and_the_distills() -> None:
    by_name = profiles()
    r1 = {name: p for name, p in by_name.items() if p["model-path"] == "deepseek-ai/DeepSeek-R1"}
    assert {(placement(p).total, placement(p).nodes) for p in r1.values()} == {(8, 1), (16, 2)}
    assert any(p.get("attn-dp-size") == 8 for p in r1.values())
    assert any(p.get("speculative-algorithm") for p in r1.values())
    distills = {str(p["model-path"]).rsplit("-", 1)[-1] for n, p in by_name.items() if n not in r1}
    assert distills == {"1.5B", "7B", "8B", "14B", "32B", "70B"}


def test_placement_counts_replicas_not_attention_groups() -> None:
    assert placement({"tp-size": 8, "attn-dp-size": 8}).total == 8
    assert placement({"tp-size": 8, "dp-size": 8}).total == 64  # dp counts whole replicas
    assert placement({"tp-size": 16, "nnodes": 2}).per_node == 8
    with pytest.raises(ToolError, match="does not divide"):
        placement({"tp-size": 8, "attn-dp-size": 3})
    with pytest.raises(ToolError, match="do not split"):
        placement({"tp-size": 8, "nnodes": 3})


def test_the_profiles_configmap_lists_every_profile() -> None:
    kustomization = yaml.safe_load((PROFILES / "kustomization.yaml").read_text())
    [generator] = kustomization["configMapGenerator"]
    assert generator["name"] == "sglang-profiles"
    assert sorted(generator["files"]) == sorted(path.name for path in profile_paths())


def test_every_profile_has_a_compose_env_file_naming_it() -> None:
    names = {path.stem for path in (DEPLOY / "env").glob("*.env")}
    assert names == set(profiles())


def test_the_capacity_table_has_every_profile_as_configured() -> None:
    rows = re.findall(
        r"^\| `([\w.-]+)` \| (\d+) × .*\| (\d+) / (\d+) \|$", README.read_text(), re.M
    )
    table = {name: (int(gpus), int(running), int(queued)) for name, gpus, running, queued in rows}
    assert set(table) == set(profiles())
    for name, profile in profiles().items():
        configured = (
            placement(profile).total,
            profile["max-running-requests"],
            profile["max-queued-requests"],
        )
        assert table[name] == configured, name
