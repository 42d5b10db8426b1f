"""Search the web: engines in configured order, with cooldowns, de-duplicated hits.

The chain lives as long as the process, so an engine that failed or was rate limited is
skipped for a while (``cooldown_s``, doubling on repeats up to ``cooldown_max_s``, forgotten
on its next success) and later questions go straight to the next engine. Nothing here sleeps.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from searchqa.documents import SearchHit
from searchqa.errors import SearchError
from searchqa.events import Language
from searchqa.protocols import SearchEngine

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
    """Engine name -> short reason, for engines tried and failed or skipped."""


@dataclass(slots=True)
class _Health:
    strikes: int = 0
    until: float = 0.0
    reason: str = ""


class EngineChain:
    """Engines tried in order; failing ones cool down, empty ones pass the turn."""

    def __init__(
        self,
        engines: Sequence[SearchEngine],
        *,
        cooldown_s: float,
        cooldown_max_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        names = [engine.name for engine in engines]
        if not names:
            raise ValueError("an engine chain needs at least one engine")
        if len(set(names)) != len(names):
            raise ValueError(f"engine names must be unique: {names}")
        self._engines = list(engines)
        self._cooldown_s = cooldown_s
        self._cooldown_max_s = max(cooldown_max_s, cooldown_s)
        self._clock = clock
        self._health = {name: _Health() for name in names}

    @property
    def engine_names(self) -> list[str]:
        return [engine.name for engine in self._engines]

    def cooling_down(self) -> dict[str, float]:
        """Engine name -> seconds left, for engines skipped right now."""
        now = self._clock()
        return {name: h.until - now for name, h in self._health.items() if h.until > now}

    async def search(self, query: str, *, language: Language, max_results: int) -> SearchOutcome:
        """Hits from the first engine that finds any; SearchError if none could answer."""
        failures: dict[str, str] = {}
        answered = False
        for engine in self._engines:
            health = self._health[engine.name]
            left = health.until - self._clock()
            if left > 0:
                failures[engine.name] = f"cooling down ({left:.0f}s left) after: {health.reason}"
                continue
            try:
                hits = await engine.search(query, language=language, max_results=max_results)
            except SearchError as exc:
                failures[engine.name] = self._strike(health, engine.name, exc.message)
                continue
            except Exception as exc:
                logger.warning("search engine %s crashed", engine.name, exc_info=True)
                reason = f"{type(exc).__name__}: {exc}"
                failures[engine.name] = self._strike(health, engine.name, reason)
                continue
            answered = True
            health.strikes, health.until, health.reason = 0, 0.0, ""
            unique = dedupe_hits(hits)[:max_results]
            if unique:
                return SearchOutcome(hits=unique, engine=engine.name, failures=failures)
        if not answered:
            detail = "; ".join(f"{name}: {reason}" for name, reason in failures.items())
            raise SearchError(f"every search engine failed: {detail}")
        return SearchOutcome(hits=[], engine=None, failures=failures)

    def _strike(self, health: _Health, name: str, reason: str) -> str:
        health.strikes += 1
        pause = min(self._cooldown_s * 2 ** (health.strikes - 1), self._cooldown_max_s)
        health.until = self._clock() + pause
        health.reason = reason
        logger.info("search engine %s failed (%s); cooling down %.0fs", name, reason, pause)
        return reason


async def search_web(
    chain: EngineChain, query: str, *, language: Language, max_results: int
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
