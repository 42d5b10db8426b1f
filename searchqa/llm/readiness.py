"""Whether a model server can take a new request now, as its own readiness route says.

SGLang answers ``GET /ready`` cheaply: 200 when it takes requests, 503 while it starts, is
paused or has gone unhealthy. Servers without that route (404, 405, or a 401 because it sits
behind their API key) are asked for their model list instead, which proves only that they answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, Protocol, runtime_checkable

READY_PATH: Final = "/ready"
MODELS_PATH: Final = "/v1/models"


@dataclass(frozen=True)
class Readiness:
    """One readiness check: its outcome, why not, and which route answered it."""

    ok: bool
    probe: Literal["/ready", "/v1/models"]
    detail: str | None = None


@runtime_checkable
class ReportsReadiness(Protocol):
    """A model client that can ask its server whether it is ready."""

    async def readiness(self) -> Readiness:
        """Ask the server now (no caching here)."""
        ...


def ready_url(base_url: str) -> str | None:
    """SGLang's ``/ready`` beside an OpenAI base URL ending in ``/v1``; None for other URLs."""
    root = base_url.rstrip("/")
    if not root.endswith("/v1"):
        return None
    return root.removesuffix("/v1") + READY_PATH


def has_no_ready_route(status: int) -> bool:
    """Answers meaning "no usable /ready here" rather than "not ready"."""
    return status in (401, 403, 404, 405, 501)
