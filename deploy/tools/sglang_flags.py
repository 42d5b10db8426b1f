"""Write the command-line flags of SGLang's server (or of sglang-router) to a JSON file.

The deploy tests check every flag in deploy/ against these files, without torch. Regenerate
them when moving to another SGLang release, in a scratch virtual environment::

    python3 -m venv /tmp/sglang-flags
    /tmp/sglang-flags/bin/pip install torch --index-url <a CPU wheel index>  # or a CPU wheel file
    /tmp/sglang-flags/bin/pip install --no-deps sglang==0.5.23 sglang-router==0.3.2
    /tmp/sglang-flags/bin/pip install numpy orjson psutil requests packaging pydantic fastapi \
        uvicorn uvloop pyzmq msgspec tqdm regex pybase64 pillow setproctitle python-multipart \
        prometheus-client aiohttp einops interegular partial_json_parser pyyaml \
        transformers==5.19.0
    # from the repository root:
    /tmp/sglang-flags/bin/python deploy/tools/sglang_flags.py server deploy/flags/sglang-0.5.23.json
    /tmp/sglang-flags/bin/python deploy/tools/sglang_flags.py router \
        deploy/flags/sglang-router-0.3.2.json

GPU-only packages (triton, CUDA bindings, SGLang's kernels) are replaced by stub modules: the
parser needs their names to import, never their code.
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import importlib.metadata
import json
import sys
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Top-level packages that only exist with a GPU; imports of them and their submodules get stubs.
STUBBED = (
    "triton",
    "cuda",
    "cupy",
    "sgl_kernel",
    "sglang_kernel",
    "flashinfer",
    "deep_gemm",
    "deep_ep",
    "flash_mla",
    "torch_memory_saver",
    "pynvml",
    "decord",
    "xgrammar",
    "outlines",
    "llguidance",
    "tilelang",
    "nvtx",
    "IPython",
)


class _Anything:
    """Stands in for any object a stubbed module is asked for: callable, subscriptable."""

    def __init__(self, name: str = "stub") -> None:
        self._name = name

    def __getattr__(self, name: str) -> _Anything:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _Anything(f"{self._name}.{name}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and callable(args[0]) and not kwargs:
            return args[0]  # used as a decorator: keep the function
        return _Anything(f"{self._name}()")

    def __getitem__(self, key: object) -> _Anything:
        return self

    def __iter__(self) -> Any:
        return iter(())

    def __bool__(self) -> bool:
        return False

    def __mro_entries__(self, bases: tuple[Any, ...]) -> tuple[type, ...]:
        return (object,)

    def __repr__(self) -> str:
        return f"<stub {self._name}>"


class _StubModule(types.ModuleType):
    __version__ = "0.0.0"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _Anything(f"{self.__name__}.{name}")


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.split(".")[0] not in STUBBED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = _StubModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        return None


def describe(parser: argparse.ArgumentParser) -> list[dict[str, Any]]:
    """Each option of ``parser``: its spellings, how it takes values, its choices."""
    options = []
    for action in parser._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        kind = type(action).__name__
        entry: dict[str, Any] = {
            "flags": sorted(action.option_strings),
            "dest": action.dest,
            "action": kind,
            "switch": isinstance(action, argparse._StoreTrueAction | argparse._StoreFalseAction)
            or action.nargs == 0,
            "nargs": action.nargs,
            "type": getattr(action.type, "__name__", None) if action.type else None,
            "choices": sorted(str(c) for c in action.choices) if action.choices else None,
            "deprecated": "Deprecated" in kind or (action.help or "").startswith("Deprecated"),
        }
        options.append(entry)
    return options


def server_parser() -> tuple[argparse.ArgumentParser, str]:
    from sglang.srt.server_args import ServerArgs

    parser = argparse.ArgumentParser(prog="sglang serve")
    ServerArgs.add_cli_args(parser)
    return parser, importlib.metadata.version("sglang")


def config_keys(parser: argparse.ArgumentParser) -> dict[str, list[str]]:
    """How ``--config FILE.yaml`` reads keys: which are switches, which it refuses."""
    from sglang.srt.utils.server_args_config_parser import ConfigArgumentMerger

    merger = ConfigArgumentMerger(parser)
    return {
        "store_true_keys": sorted(set(merger.store_true_actions)),
        "unsupported_keys": sorted(merger.unsupported_actions),
    }


def router_parser() -> tuple[argparse.ArgumentParser, str]:
    from sglang_router.launch_router import RouterArgs

    parser = argparse.ArgumentParser(prog="sglang_router.launch_router")
    RouterArgs.add_cli_args(parser, use_router_prefix=False)
    return parser, importlib.metadata.version("sglang-router")


def render(document: dict[str, Any]) -> str:
    """JSON with one option a line, so a new release's changes read as a short diff."""
    head = {key: value for key, value in document.items() if key != "options"}
    lines = [json.dumps(option, sort_keys=True) for option in document["options"]]
    head_text = json.dumps(head, indent=1, sort_keys=True)[1:-1].strip()
    return "{\n " + head_text + ',\n "options": [\n  ' + ",\n  ".join(lines) + "\n ]\n}\n"


def main(argv: Sequence[str] | None = None) -> None:
    cli = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    cli.add_argument("which", choices=["server", "router"])
    cli.add_argument("output", type=Path)
    args = cli.parse_args(argv)
    sys.meta_path.insert(0, _StubFinder())
    parser, version = server_parser() if args.which == "server" else router_parser()
    package = "sglang" if args.which == "server" else "sglang-router"
    document: dict[str, Any] = {"package": package, "version": version}
    document["options"] = describe(parser)
    if args.which == "server":
        document["config_file"] = config_keys(parser)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(document))
    print(f"{len(document['options'])} options of {package} {version} -> {args.output}")


if __name__ == "__main__":
    main()
