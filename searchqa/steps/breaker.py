"""One circuit breaker per search engine: closed, open, half-open.

- **Closed**: every request may use the engine. Faults of the engine itself (unreachable,
  timed out, server errors; ``EngineFaultError``) are counted; ``failure_threshold``
  consecutive ones open the circuit. A rate limit opens it at once: the engine asked to be
  left alone. A bad answer to one query (a plain ``SearchError``) neither counts nor resets.
- **Open**: requests skip the engine for ``open_s``, doubling after each failed probe up to
  ``open_max_s``.
- **Half-open**: once that time is up, one request at a time probes the engine while the others
  skip it. A good answer closes the circuit; a fault opens it again for longer.

The state lives in the process (each worker learns on its own) and nothing here sleeps.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

log = logging.getLogger(__name__)

CircuitState = Literal["closed", "open", "half_open"]
Ticket = Literal["normal", "probe"]
"""How a request was let through: as usual (closed), or as the one probe of a half-open
circuit (also a forced try when every engine is open)."""


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    failure_threshold: int = 3
    open_s: float = 30.0
    open_max_s: float = 900.0


@dataclass(slots=True)
class CircuitBreaker:
    """The health of one engine, as its recent requests saw it."""

    name: str
    settings: BreakerSettings
    clock: Callable[[], float] = time.monotonic
    consecutive_faults: int = 0
    failed_probes: int = 0
    open_until: float | None = None
    """Set while the circuit is open or half-open."""
    probing: bool = False
    last_failure_at: float | None = None
    last_reason: str = ""
    _opened_by: str = field(default="", repr=False)

    def state(self) -> CircuitState:
        if self.open_until is None:
            return "closed"
        return "open" if self.clock() < self.open_until else "half_open"

    def retry_in_s(self) -> float:
        """Seconds until the next probe may go; 0 unless open."""
        return max(0.0, self.open_until - self.clock()) if self.open_until is not None else 0.0

    def admit(self) -> Ticket | None:
        """Let a request through (and how), or None: skip the engine for now."""
        state = self.state()
        if state == "closed":
            return "normal"
        if state == "half_open" and not self.probing:
            self.probing = True
            return "probe"
        return None

    def force(self) -> Ticket:
        """Let one request through whatever the state: every engine was open."""
        self.probing = True
        return "probe"

    def skip_reason(self) -> str:
        if self.state() == "open":
            return f"circuit open ({self.retry_in_s():.0f}s left) after: {self._opened_by}"
        return f"circuit half-open, another request is probing it; opened after: {self._opened_by}"

    def succeeded(self) -> None:
        if self.open_until is not None:
            log.info("search engine %s answered again; circuit closed", self.name)
        self.consecutive_faults = self.failed_probes = 0
        self.open_until, self.probing, self._opened_by = None, False, ""

    def faulted(self, ticket: Ticket, reason: str, *, rate_limited: bool) -> None:
        """A fault of the engine itself."""
        now = self.clock()
        self.last_failure_at, self.last_reason = now, reason
        self.consecutive_faults += 1
        if ticket == "probe":
            self.probing = False
            self.failed_probes += 1
        elif self.open_until is not None:
            return  # a request let through before the circuit opened: it is open already
        elif not rate_limited and self.consecutive_faults < self.settings.failure_threshold:
            return
        pause = min(
            self.settings.open_s * 2**self.failed_probes,
            max(self.settings.open_max_s, self.settings.open_s),
        )
        self.open_until = now + pause
        self._opened_by = reason
        log.info("search engine %s failed (%s); circuit open for %.0fs", self.name, reason, pause)

    def answered_badly(self, ticket: Ticket, reason: str) -> None:
        """A bad answer to this one query: no verdict on the engine, the probe slot is free."""
        self.last_failure_at, self.last_reason = self.clock(), reason
        if ticket == "probe":
            self.probing = False

    def released(self, ticket: Ticket) -> None:
        """The request went away (cancelled) before the engine answered."""
        if ticket == "probe":
            self.probing = False

    def report(self) -> dict[str, object]:
        """The state as ``/readyz`` shows it."""
        state = self.state()
        report: dict[str, object] = {
            "state": state,
            "consecutive_failures": self.consecutive_faults,
        }
        if state != "closed":
            report["retry_in_s"] = round(self.retry_in_s(), 1)
            report["opened_after"] = self._opened_by
        if self.last_reason:
            report["last_error"] = self.last_reason
        return report


class CircuitBreakers:
    """The breakers of every engine, shared by all chains built from one configuration."""

    def __init__(
        self, settings: BreakerSettings, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._by_name: dict[str, CircuitBreaker] = {}

    def __getitem__(self, name: str) -> CircuitBreaker:
        breaker = self._by_name.get(name)
        if breaker is None:
            breaker = self._by_name[name] = CircuitBreaker(name, self.settings, self._clock)
        return breaker
