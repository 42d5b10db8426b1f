"""Search the web: engines in configured order behind circuit breakers, de-duplicated hits.

The chain lives as long as the process. Each engine has a circuit breaker (``breaker.py``):
after consecutive faults of the engine itself it is skipped for a while, then probed by one
request at a time. An engine that finds nothing passes the turn without a mark against it.
When every engine is open, the one that failed longest ago is still tried once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from searchqa.documents import SearchHit
from searchqa.engines import EngineFaultError, RateLimitedError
from searchqa.errors import SearchError
from searchqa.events import EngineFailure, SearchLanguage, SearchReport
from searchqa.protocols import SearchEngine
from searchqa.steps.breaker import CircuitBreaker, CircuitBreakers, Ticket

logger = logging.getLogger(__name__)

_TRACKING_PARAMS = frozenset(
    {"gclid", "dclid", "gbraid", "wbraid", "fbclid", "msclkid", "yclid", "igshid", "mc_cid",
     "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "spm"}
)  # fmt: skip
_DEFAULT_PORTS = {"http": 80, "https": 443}
_TRAILING_SLASHES = re.compile(r"[/\s]+$")


@dataclass(frozen=True, slots=True)
class SearchOutcome:
    """The hits one question got, and which engines failed on the way."""

    hits: list[SearchHit]
    engine: str | None
    """The engine whose hits were used; None when no engine found anything."""
    failures: dict[str, str]
    """Engine name -> short reason, for engines tried and failed or skipped, in chain order."""

    @property
    def degraded(self) -> bool:
        """Whether an engine ahead of the one used failed or was skipped."""
        return bool(self.failures)

    def report(self, query: str) -> SearchReport:
        failed = [EngineFailure(engine=name, reason=why) for name, why in self.failures.items()]
        return SearchReport(query=query, engine=self.engine, failed=failed)


class _EngineFailedError(Exception):
    """The engine failed this time (already recorded on its breaker)."""


class EngineChain:
    """Engines tried in order; open circuits are skipped, empty answers pass the turn."""

    def __init__(self, engines: Sequence[SearchEngine], *, breakers: CircuitBreakers) -> None:
        names = [engine.name for engine in engines]
        if not names:
            raise ValueError("an engine chain needs at least one engine")
        if len(set(names)) != len(names):
            raise ValueError(f"engine names must be unique: {names}")
        self._engines = list(engines)
        self.breakers = breakers

    @property
    def engine_names(self) -> list[str]:
        return [engine.name for engine in self._engines]

    def states(self) -> dict[str, dict[str, object]]:
        """Engine name -> its circuit's state, in chain order."""
        return {name: self.breakers[name].report() for name in self.engine_names}

    async def search(
        self, query: str, *, language: SearchLanguage, max_results: int
    ) -> SearchOutcome:
        """Hits from the first engine that finds any; SearchError if none could answer."""
        failures: dict[str, str] = {}
        answered = False
        skipped: list[SearchEngine] = []
        for engine in self._engines:
            breaker = self.breakers[engine.name]
            ticket = breaker.admit()
            if ticket is None:
                failures[engine.name] = breaker.skip_reason()
                skipped.append(engine)
                continue
            try:
                hits = await self._ask(engine, breaker, ticket, query, language, max_results)
            except _EngineFailedError:
                failures[engine.name] = breaker.last_reason
                continue
            answered = True
            unique = dedupe_hits(hits)[:max_results]
            if unique:
                return SearchOutcome(hits=unique, engine=engine.name, failures=failures)
        if skipped and len(skipped) == len(self._engines):
            # Every circuit is open: try the engine that failed longest ago, once.
            engine = min(skipped, key=lambda e: self.breakers[e.name].last_failure_at or 0.0)
            breaker = self.breakers[engine.name]
            try:
                hits = await self._ask(
                    engine, breaker, breaker.force(), query, language, max_results
                )
            except _EngineFailedError:
                failures[engine.name] = f"tried though its circuit is open: {breaker.last_reason}"
            else:
                answered = True
                del failures[engine.name]
                unique = dedupe_hits(hits)[:max_results]
                if unique:
                    return SearchOutcome(hits=unique, engine=engine.name, failures=failures)
        if not answered:
            detail = "; ".join(f"{name}: {reason}" for name, reason in failures.items())
            raise SearchError(f"every search engine failed: {detail}")
        return SearchOutcome(hits=[], engine=None, failures=failures)

    async def _ask(
        self,
        engine: SearchEngine,
        breaker: CircuitBreaker,
        ticket: Ticket,
        query: str,
        language: SearchLanguage,
        max_results: int,
    ) -> list[SearchHit]:
        """The engine's hits, its breaker told how it went; _EngineFailedError when it failed."""
        try:
            hits = await engine.search(query, language=language, max_results=max_results)
        except EngineFaultError as exc:
            breaker.faulted(ticket, exc.message, rate_limited=isinstance(exc, RateLimitedError))
            raise _EngineFailedError from exc
        except SearchError as exc:
            breaker.answered_badly(ticket, exc.message)
            raise _EngineFailedError from exc
        except Exception as exc:
            logger.warning("search engine %s crashed", engine.name, exc_info=True)
            breaker.faulted(ticket, f"{type(exc).__name__}: {exc}", rate_limited=False)
            raise _EngineFailedError from exc
        except BaseException:
            breaker.released(ticket)  # cancelled: no verdict on the engine
            raise
        breaker.succeeded()
        return hits


async def search_web(
    chain: EngineChain, query: str, *, language: SearchLanguage, max_results: int
) -> SearchOutcome:
    """Search the web with the process-wide engine chain."""
    return await chain.search(query, language=language, max_results=max_results)


def dedupe_hits(hits: Sequence[SearchHit]) -> list[SearchHit]:
    """Drop hits whose normalised URL was seen before; the first one wins."""
    seen: set[str] = set()
    unique = []
    for hit in hits:
        key = normalize_url(hit.url)
        if key not in seen:
            seen.add(key)
            unique.append(hit)
    return unique


def normalize_url(url: str) -> str:
    """A comparison key: two URLs with the same key show the same page.

    Lower-cases scheme and host, drops ``www.``, default ports, the fragment, trailing
    slashes and tracking parameters (``utm_*``, ``gclid``, ``fbclid``...); keeps the other
    query parameters, sorted.
    """
    text = url.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return text.split("#", 1)[0].strip()
    try:
        port = parts.port
    except ValueError:
        port = None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.netloc:
        return text.split("#", 1)[0].strip()
    host = (parts.hostname or "").strip()
    while host.startswith("www.") and len(host) > 4:
        host = host[4:]
    if ":" in host:
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}" if userinfo else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    path = _TRAILING_SLASHES.sub("", parts.path)
    pairs = (pair.strip() for pair in parts.query.split("&"))
    query = "&".join(sorted(pair for pair in pairs if pair and not _is_tracking(pair)))
    return (f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")).strip()


def _is_tracking(pair: str) -> bool:
    key = pair.split("=", 1)[0].lower()
    return key.startswith("utm_") or key in _TRACKING_PARAMS
