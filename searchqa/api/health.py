"""``/healthz`` (the process answers) and ``/readyz`` (it can answer questions)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from litestar import Response, get
from litestar.di import NamedDependency

from searchqa.api.problems import problem_response
from searchqa.api.route_facts import route_facts
from searchqa.errors import SearchQAError
from searchqa.kit import AnswerKit
from searchqa.service.sessions import AnswerSessions
from searchqa.state.protocols import StateBackend

MODEL_CHECK_TTL_S = 5.0
MODEL_CHECK_TIMEOUT_S = 3.0


class ReadinessProbe:
    """Checks state, model and search engines; the model's answer is reused briefly."""

    def __init__(self, *, kit: AnswerKit, state: StateBackend) -> None:
        self._kit = kit
        self._state = state
        self._model: tuple[float, dict[str, Any]] | None = None

    async def check(self) -> dict[str, dict[str, Any]]:
        state_ok, state_detail = await self._state.health()
        chain = self._kit.chain
        cooling = chain.cooling_down()
        engines = chain.engine_names
        return {
            "state": {"ok": state_ok, "kind": self._state.kind, "detail": state_detail},
            "llm": await self._check_model(),
            "search": {
                "ok": any(name not in cooling for name in engines),
                "engines": engines,
                "cooling_down": {name: round(left, 1) for name, left in cooling.items()},
            },
        }

    async def _check_model(self) -> dict[str, Any]:
        now = time.monotonic()
        if self._model is not None and now - self._model[0] < MODEL_CHECK_TTL_S:
            return self._model[1]
        try:
            async with asyncio.timeout(MODEL_CHECK_TIMEOUT_S):
                info = await self._kit.model.describe()
            result: dict[str, Any] = {"ok": True, "model": info.id}
        except SearchQAError as exc:
            result = {"ok": False, "detail": exc.message}
        except TimeoutError:
            result = {"ok": False, "detail": "the model server did not answer in time"}
        self._model = (time.monotonic(), result)
        return result


@get(
    "/healthz",
    include_in_schema=True,
    tags=["operations"],
    sync_to_thread=False,
    opt=route_facts(access="open", quiet=True),
)
def healthz() -> dict[str, str]:
    """Liveness: the process is up and serving requests."""
    return {"status": "ok"}


@get("/readyz", tags=["operations"], opt=route_facts(access="open", quiet=True))
async def readyz(
    probe: NamedDependency[ReadinessProbe], sessions: NamedDependency[AnswerSessions]
) -> Response[dict[str, Any]]:
    """Readiness: state store, model server and at least one search engine are usable."""
    checks = await probe.check()
    if sessions.draining:
        checks["server"] = {"ok": False, "detail": "shutting down"}
    failed = [name for name, check in checks.items() if not check["ok"]]
    if failed:
        return problem_response(
            503, code="not_ready", detail=f"not ready: {', '.join(failed)}", checks=checks
        )
    return Response({"status": "ready", "checks": checks})
