"""SGLang's and sglang-router's command lines, rebuilt from the committed flag files.

``deploy/tools/sglang_flags.py`` wrote each parser's options (from the real packages, under
torch) to ``deploy/flags/*.json``. Here they become argparse parsers again, strict where the
real ones are lenient: no prefix abbreviations (``--tp`` for ``--tp-size``), no deprecated
flags, no short aliases where a full name exists. A profile is read the way ``--config`` reads
it (SGLang's ``ConfigArgumentMerger``): each key becomes ``--key``, switches appear when true.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
FLAGS = REPO / "deploy" / "flags"
SGLANG_FLAGS = FLAGS / "sglang-0.5.23.json"
ROUTER_FLAGS = FLAGS / "sglang-router-0.3.2.json"

_HUMAN_INT = re.compile(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?")
_MULTIPLIER = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_MULTIPLIER |= {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


class CommandLineError(ValueError):
    """A command line or profile the real parser would refuse, or that relies on leniency."""


class _StrictParser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would print and exit
        raise CommandLineError(message)


def _human_readable_int(value: str) -> int:
    match = _HUMAN_INT.fullmatch(value.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}")
    number, suffix = match.groups()
    return int(float(number) * _MULTIPLIER[suffix]) if suffix else int(number)


_TYPES: dict[str | None, Callable[[str], Any]] = {
    "int": int,
    "float": float,
    "human_readable_int": _human_readable_int,
    "loads": json.loads,
    "json_list_type": json.loads,
}


@dataclass(frozen=True)
class FlagTable:
    """One package's options and how its ``--config`` files read keys."""

    package: str
    version: str
    options: tuple[Mapping[str, Any], ...]
    config_switches: frozenset[str]
    config_refused: frozenset[str]

    @classmethod
    def load(cls, path: Path) -> FlagTable:
        document = json.loads(path.read_text())
        config = document.get("config_file", {})
        return cls(
            package=document["package"],
            version=document["version"],
            options=tuple(document["options"]),
            config_switches=frozenset(config.get("store_true_keys", ())),
            config_refused=frozenset(config.get("unsupported_keys", ())),
        )

    def by_flag(self) -> dict[str, Mapping[str, Any]]:
        return {flag: option for option in self.options for flag in option["flags"]}

    def parser(self) -> argparse.ArgumentParser:
        """A strict parser with every option of the real one."""
        parser = _StrictParser(prog=self.package, allow_abbrev=False, add_help=False)
        for option in self.options:
            flags = option["flags"]
            if option["switch"]:
                parser.add_argument(*flags, dest=option["dest"], action="store_true")
                continue
            nargs = option["nargs"]
            kwargs: dict[str, Any] = {"dest": option["dest"]}
            if nargs is not None:
                kwargs["nargs"] = nargs
            if "Append" in option["action"]:
                kwargs["action"] = "append"
            kwargs["type"] = _TYPES.get(option["type"], str)
            if option["choices"] and option["type"] in (None, "str", "nullable_str"):
                kwargs["choices"] = option["choices"]
            parser.add_argument(*flags, **kwargs)
        return parser

    def check(self, argv: Sequence[str]) -> argparse.Namespace:
        """Parse ``argv`` as the real parser would, and refuse what only leniency accepts."""
        flags = self.by_flag()
        for token in argv:
            name = token.split("=", 1)[0]
            if not name.startswith("-") or _is_number(name):
                continue
            option = flags.get(name)
            if option is None:
                raise CommandLineError(f"{self.package} {self.version} has no flag {name}")
            if option["deprecated"]:
                raise CommandLineError(f"{name} is deprecated in {self.package} {self.version}")
            full = "--" + option["dest"].replace("_", "-")
            if full in option["flags"] and len(name) < len(full):
                raise CommandLineError(f"write {name} in full: {full}")
        namespace, extra = self.parser().parse_known_args(list(argv))
        if extra:
            raise CommandLineError(f"{self.package} would refuse {' '.join(extra)}")
        return namespace

    def config_argv(self, profile: Mapping[str, Any]) -> list[str]:
        """The command line SGLang builds from a ``--config`` YAML mapping."""
        argv: list[str] = []
        for key, value in profile.items():
            normal = str(key).replace("-", "_")
            if normal in self.config_refused:
                raise CommandLineError(f"--config files cannot set {key}")
            if isinstance(value, bool):
                if normal in self.config_switches:
                    argv += [f"--{key}"] if value else []
                else:
                    argv += [f"--{key}", str(value).lower()]
            elif isinstance(value, list):
                argv += [f"--{key}", *(str(item) for item in value)] if value else []
            elif isinstance(value, dict):
                argv += [f"--{key}", json.dumps(value)]
            else:
                argv += [f"--{key}", str(value)]
        return argv


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


@cache
def sglang_flags() -> FlagTable:
    return FlagTable.load(SGLANG_FLAGS)


@cache
def router_flags() -> FlagTable:
    return FlagTable.load(ROUTER_FLAGS)
