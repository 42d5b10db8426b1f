"""First-token overhead: what answer() adds between the model's first token and the client.

The fake SGLang (in the simulated-web process) waits ``prefill_s`` before its first chunk, then
sends 20 tokens/s; its reply reasons for two tokens, then answers. Per run, interleaved:

- ours: from the moment answer() opens the model stream until the caller receives the first
  ``answer`` event (search and fetch of one local page come before and are not counted);
- baseline: a minimal httpx client posting the same request body and reading the SSE stream
  itself, from sending the request to parsing the first content token.

Overhead = ours - baseline of the same pair. Reproduce with::

    python -m bench.first_token
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import httpx

from bench.simweb import (
    SimPage,
    World,
    WorldConfig,
    markdown_table,
    percentile,
    pipeline_settings,
    run_world,
)
from searchqa.answer import answer
from searchqa.events import AnswerEvent
from searchqa.kit import AnswerKit
from searchqa.protocols import ChatModel, ModelDelta, ModelInfo, Turn
from tests.fakes.sglang import FakeSGLang

QUESTION = "How do community gardens cool city blocks?"
REASONING = "Okay."
REPLY = "Gardens cool the blocks around them by about 2 °C [citation:1]."


class StreamClock:
    """A ChatModel that notes when each stream starts and what it asked for."""

    def __init__(self, model: ChatModel) -> None:
        self._model = model
        self.opened_at = 0.0
        self.prompt = ""
        self.max_tokens = 0

    async def describe(self) -> ModelInfo:
        return await self._model.describe()

    async def stream(
        self,
        prompt: str,
        *,
        max_tokens: int,
        history: Sequence[Turn] = (),
        temperature: float | None = None,
    ) -> AsyncGenerator[ModelDelta, None]:
        self.opened_at = time.perf_counter()
        self.prompt, self.max_tokens = prompt, max_tokens
        stream = self._model.stream(
            prompt, max_tokens=max_tokens, history=history, temperature=temperature
        )
        async with aclosing(stream) as deltas:
            async for delta in deltas:
                yield delta

    async def aclose(self) -> None:
        await self._model.aclose()


@dataclass(frozen=True, slots=True)
class FirstTokenConfig:
    runs: int = 50
    warm_up_runs: int = 2
    prefill_s: float = 0.2
    tokens_per_s: float = 20.0


@dataclass(frozen=True, slots=True)
class FirstTokenRun:
    """Seconds: ours (stream opened -> first answer event), baseline (request -> first token)."""

    ours_s: float
    baseline_s: float
    request_s: float
    """answer() called -> first answer event, search and fetch included (for reference)."""

    @property
    def overhead_s(self) -> float:
        return self.ours_s - self.baseline_s


async def _ours(kit: AnswerKit, clock: StreamClock) -> tuple[float, float]:
    started = time.perf_counter()
    events = answer(QUESTION, kit=kit)
    async with aclosing(events):
        async for event in events:
            if isinstance(event, AnswerEvent):
                now = time.perf_counter()
                return now - clock.opened_at, now - started
    raise RuntimeError("answer() sent no answer text")


async def _baseline(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> float:
    started = time.perf_counter()
    async with client.stream("POST", url, json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            choices = json.loads(line[6:]).get("choices") or []
            if choices and choices[0].get("delta", {}).get("content"):
                return time.perf_counter() - started
    raise RuntimeError("the stream had no content token")


def _same_request(clock: StreamClock, model: str, kit: AnswerKit) -> dict[str, Any]:
    """The body answer() sent, so the server does the same work for the baseline."""
    llm = kit.settings.llm
    return {
        "model": model,
        "messages": [{"role": "user", "content": clock.prompt}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": clock.max_tokens,
        "temperature": llm.temperature,
        "top_p": llm.top_p,
    }


async def _measure(world: World, config: FirstTokenConfig) -> list[FirstTokenRun]:
    settings = pipeline_settings(world, max_results=1, deadline_s=6.0)
    runs: list[FirstTokenRun] = []
    async with (
        AnswerKit.from_settings(settings) as kit,
        httpx.AsyncClient(timeout=30) as client,
    ):
        clock = StreamClock(kit.model)
        kit.model = clock
        model_id = (await clock.describe()).id
        url = f"{world.llm_base_url}/chat/completions"
        await _ours(kit, clock)  # starts the extraction workers and connections
        body = _same_request(clock, model_id, kit)
        for number in range(config.warm_up_runs + config.runs):
            if number % 2:  # alternate the order, so drift does not favour either side
                baseline = await _baseline(client, url, body)
                ours, request = await _ours(kit, clock)
            else:
                ours, request = await _ours(kit, clock)
                baseline = await _baseline(client, url, body)
            if number >= config.warm_up_runs:
                runs.append(FirstTokenRun(ours, baseline, request))
    return runs


async def measure_first_token(config: FirstTokenConfig) -> list[FirstTokenRun]:
    """``config.runs`` interleaved pairs against a fake SGLang with the configured pacing."""
    page = SimPage("/page/0", size=20_000, latency_s=0.0, hangs=False, language="en", seed=1)
    llm = FakeSGLang(
        reasoning=REASONING,
        answer=REPLY,
        first_token_delay_s=config.prefill_s,
        token_delay_s=1.0 / config.tokens_per_s,
    )
    with run_world(WorldConfig(pages=[page], answers={QUESTION: [page.path]}, llm=llm)) as world:
        return await _measure(world, config)


def _ms(values: Sequence[float]) -> list[str]:
    return [f"{percentile(values, q) * 1000:.1f} ms" for q in (50, 90)] + [
        f"{max(values) * 1000:.1f} ms"
    ]


def report(runs: Sequence[FirstTokenRun], config: FirstTokenConfig) -> str:
    """The runs as a Markdown table and the target line."""
    overhead = [run.overhead_s for run in runs]
    rows = [
        ["ours: model stream opened -> first answer event", *_ms([r.ours_s for r in runs])],
        ["baseline: raw httpx request -> first content token", *_ms([r.baseline_s for r in runs])],
        ["overhead (ours - baseline, per pair)", *_ms(overhead)],
        ["answer() called -> first answer event (reference)", *_ms([r.request_s for r in runs])],
    ]
    p50 = percentile(overhead, 50)
    return "\n".join(
        [
            f"{len(runs)} interleaved pairs; fake SGLang: {config.prefill_s * 1000:g} ms prefill, "
            f"{config.tokens_per_s:g} tokens/s, reasoning {REASONING!r} then the answer",
            "",
            markdown_table(["", "p50", "p90", "max"], rows),
            "",
            f"target p50 overhead < 10 ms: {'met' if p50 < 0.010 else 'MISSED'} "
            f"({p50 * 1000:.1f} ms)",
        ]
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.first_token", description=__doc__)
    defaults = FirstTokenConfig()
    parser.add_argument("--runs", type=int, default=defaults.runs)
    parser.add_argument("--prefill", type=float, default=defaults.prefill_s, metavar="S")
    args = parser.parse_args(argv)
    config = FirstTokenConfig(runs=args.runs, prefill_s=args.prefill)
    print(report(asyncio.run(measure_first_token(config)), config))


if __name__ == "__main__":
    main()
