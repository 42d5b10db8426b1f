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
from searchqa.llm.readiness import ReportsReadiness
from searchqa.protocols import ChatModel
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
        return {
            "state": {"ok": state_ok, "kind": self._state.kind, "detail": state_detail},
            "llm": await self._check_model(),
            "search": search_check(self._kit.chain.states()),
        }

    async def _check_model(self) -> dict[str, Any]:
        now = time.monotonic()
        if self._model is not None and now - self._model[0] < MODEL_CHECK_TTL_S:
            return self._model[1]
        try:
            async with asyncio.timeout(MODEL_CHECK_TIMEOUT_S):
                result = await _model_state(self._kit.model)
        except SearchQAError as exc:
            result = {"ok": False, "detail": exc.message}
        except TimeoutError:
            result = {"ok": False, "detail": "the model server did not answer in time"}
        self._model = (time.monotonic(), result)
        return result


def search_check(states: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The engines' circuits in chain order: usable while one is not open; ``degraded`` while
    the first is open or half-open and a later one serves."""
    engines = [{"name": name} | state for name, state in states.items()]
    usable = [engine["state"] != "open" for engine in engines]
    first_down = engines[0]["state"] != "closed"
    return {
        "ok": any(usable),
        "degraded": first_down and any(usable[1:]),
        "engines": engines,
    }


async def _model_state(model: ChatModel) -> dict[str, Any]:
    """The model server's own readiness where it reports one (SGLang's ``/ready``)."""
    if isinstance(model, ReportsReadiness):
        readiness = await model.readiness()
        if not readiness.ok:
            return {"ok": False, "detail": readiness.detail, "probe": readiness.probe}
    info = await model.describe()
    return {"ok": True, "model": info.id}


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
    """Readiness: state store, model server and at least one search engine are usable;
    ``degraded`` (still 200) while the first search engine is down and a later one serves."""
    checks = await probe.check()
    if sessions.draining:
        checks["server"] = {"ok": False, "detail": "shutting down"}
    failed = [name for name, check in checks.items() if not check["ok"]]
    if failed:
        return problem_response(
            503, code="not_ready", detail=f"not ready: {', '.join(failed)}", checks=checks
        )
    status = "degraded" if checks["search"].get("degraded") else "ready"
    return Response({"status": status, "checks": checks})
