"""Server CPU per answer start: what one answer costs ``searchqa serve`` besides its tokens.

``bench.stream_capacity`` counts the CPU per streamed token with each answer's start and end
included; with 117-token answers the starts are about a third of it. This benchmark isolates
them: N answers of a handful of tokens (``no_cache``, distinct questions, ``concurrency`` at a
time), the fake SGLang replying at once and the fake SearXNG finding nothing, so each answer
is the request, the search request, the language checks, the prompt, the model request and the
events. The figure is the server process's CPU time over the answers.

The tree under test and a baseline tree (``--service-path``, a previous commit) take turns,
``--rounds`` times each, so the noise of a shared machine falls on both. Reproduce with::

    python -m bench.answer_start --service-path /tmp/previous-commit
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bench.service import client_session, run_service, service_env, tree_cpu_seconds
from bench.simweb import WorldConfig, markdown_table, percentile, run_world
from bench.stream_capacity import trace_stream
from tests.fakes.sglang import FakeSGLang

REASONING = "Short.\n"
ANSWER = "Gardens cool blocks."


@dataclass(frozen=True, slots=True)
class StartConfig:
    answers: int = 400
    concurrency: int = 10
    warm_up: int = 20
    rounds: int = 3
    service_path: str | None = None
    """The baseline tree; without it only this tree is measured."""


@dataclass(frozen=True, slots=True)
class StartRun:
    tree: str
    """``this tree`` or ``baseline``."""
    cpu_ms_per_answer: float
    completed: int
    wall_s: float


async def _run(tree: str, service_path: str | None, config: StartConfig) -> StartRun:
    fake = FakeSGLang(reasoning=REASONING, answer=ANSWER, token_delay_s=0.0)
    extra = {"PYTHONPATH": service_path} if service_path else {}
    if service_path and os.environ.get("PYTHONPATH"):
        extra["PYTHONPATH"] += os.pathsep + os.environ["PYTHONPATH"]
    with run_world(WorldConfig(llm=fake)) as world:
        env = service_env(world, **extra)
        async with run_service(env) as service, client_session() as session:
            gate = asyncio.Semaphore(config.concurrency)

            async def ask(tag: str, number: int) -> bool:
                body = {"query": f"How do gardens cool blocks? ({tag} {number})", "no_cache": True}
                async with gate:
                    url = service.url + "/v1/answer"
                    trace = await trace_stream(session, url, body, searchqa=True)
                return trace.completed

            await asyncio.gather(*(ask("warm-up", n) for n in range(config.warm_up)))
            cpu, wall = tree_cpu_seconds(service.pid), time.perf_counter()
            done = await asyncio.gather(*(ask("run", n) for n in range(config.answers)))
            cpu, wall = tree_cpu_seconds(service.pid) - cpu, time.perf_counter() - wall
    return StartRun(tree, cpu / config.answers * 1000, sum(done), wall)


async def measure_starts(config: StartConfig) -> list[StartRun]:
    """``config.rounds`` runs of each tree, taking turns (the baseline first)."""
    runs = []
    for _ in range(config.rounds):
        if config.service_path:
            runs.append(await _run("baseline", config.service_path, config))
        runs.append(await _run("this tree", None, config))
    return runs


def report(runs: Sequence[StartRun], config: StartConfig) -> str:
    rows = [
        [run.tree, f"{run.cpu_ms_per_answer:.2f}", f"{run.completed}/{config.answers}",
         f"{run.wall_s:.1f}"]
        for run in runs
    ]  # fmt: skip
    lines = [
        f"{config.answers} answers of a few tokens, {config.concurrency} at a time, "
        f"{os.cpu_count()} cores",
        "",
        markdown_table(["tree", "server CPU ms per answer", "completed", "wall s"], rows),
        "",
    ]
    for tree in dict.fromkeys(run.tree for run in runs):
        values = [run.cpu_ms_per_answer for run in runs if run.tree == tree]
        lines.append(f"{tree}: median {percentile(values, 50):.2f} ms per answer")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.answer_start", description=__doc__)
    defaults = StartConfig()
    parser.add_argument("--answers", type=int, default=defaults.answers)
    parser.add_argument("--rounds", type=int, default=defaults.rounds)
    parser.add_argument("--service-path", metavar="DIR", help="the baseline tree")
    args = parser.parse_args(argv)
    config = StartConfig(answers=args.answers, rounds=args.rounds, service_path=args.service_path)
    print(report(asyncio.run(measure_starts(config)), config))


if __name__ == "__main__":
    main()
