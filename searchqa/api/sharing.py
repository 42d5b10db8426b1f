"""What requests share: pipelines per engine chain, the answer cache and single-flight.

Cache and single-flight failures are never fatal: they are logged and the answer goes on
without them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import replace

from pydantic import ValidationError

from searchqa.engines.cached import cache_engines
from searchqa.engines.registry import build_engines
from searchqa.errors import InvalidRequestError, SearchQAError
from searchqa.events import Event, parse_event
from searchqa.pipeline import Pipeline
from searchqa.settings import Settings
from searchqa.state.keys import answer_key
from searchqa.state.protocols import KeyValueCache, StateBackend
from searchqa.steps.language import detect_language
from searchqa.steps.prompt import format_date, today_in_zone
from searchqa.steps.search import EngineChain

FLIGHT_TTL_S = 900.0
"""A leader that died without releasing its claim blocks nobody for longer than this."""
log = logging.getLogger(__name__)


class PipelineVariants:
    """The pipeline, or a copy with a requested chain of configured engines.

    Each chain is built once, so its engines' cooldowns carry over between requests.
    """

    def __init__(self, pipeline: Pipeline, settings: Settings, *, cache: KeyValueCache) -> None:
        self._pipeline = pipeline
        self._settings = settings
        self._cache = cache
        self._chains: dict[tuple[str, ...], EngineChain] = {}

    def with_engines(self, engines: Sequence[str] | None) -> Pipeline:
        if not engines:
            return self._pipeline
        names = tuple(name.strip().lower() for name in engines)
        configured = self._pipeline.chain.engine_names
        if list(names) == configured:
            return self._pipeline
        if any(name not in configured for name in names) or len(set(names)) != len(names):
            raise InvalidRequestError(
                f"engines must be distinct names among the configured ones "
                f"({', '.join(configured)}); got {', '.join(names)}",
                code="unknown_engine",
                http_status=422,
            )
        chain = self._chains.get(names)
        if chain is None:
            search = self._settings.search
            built = build_engines(names, self._settings)
            chain = self._chains[names] = EngineChain(
                cache_engines(built, self._cache, ttl_s=self._settings.cache.search_ttl_s),
                cooldown_s=search.cooldown_s,
                cooldown_max_s=search.cooldown_max_s,
            )
        return replace(self._pipeline, chain=chain)


class SharedAnswers:
    """Finished answers by key, and claims on answers being generated."""

    def __init__(self, state: StateBackend, settings: Settings) -> None:
        self._state = state
        self._settings = settings

    def key(self, question: str, pipeline: Pipeline, max_sources: int | None) -> str:
        """Same key = same answer: question, language, engines, pages and date."""
        language = detect_language(question)
        day = today_in_zone(self._settings.prompt.timezone)
        return answer_key(
            question,
            language=language,
            engines=pipeline.chain.engine_names,
            max_sources=max_sources or self._settings.search.max_results,
            date=format_date(day, language),
        )

    async def cached(self, key: str) -> list[Event] | None:
        """The events of the finished answer stored under ``key``."""
        try:
            raw = await self._state.cache.get(key)
            if raw is None:
                return None
            return [parse_event(data) for data in json.loads(raw)]
        except (SearchQAError, ValueError, ValidationError) as exc:
            log.warning("answer cache unusable for this request: %s", exc)
            return None

    async def remember(self, key: str, recorded: list[str]) -> None:
        """Store a finished answer's events (their JSON)."""
        ttl_s = self._settings.server.answer_cache_ttl_s
        if ttl_s <= 0:
            return
        try:
            await self._state.cache.set(key, json.dumps(recorded).encode(), ttl_s=ttl_s)
        except SearchQAError as exc:
            log.warning("could not cache an answer: %s", exc)

    async def claim(self, key: str, stream_id: str) -> str | None:
        """None: generate as ``stream_id``; otherwise the stream of the answer to follow."""
        try:
            return await self._state.flights.claim(key, stream_id, ttl_s=FLIGHT_TTL_S)
        except SearchQAError as exc:
            log.warning("single-flight unavailable: %s", exc)
            return None

    async def release(self, key: str, stream_id: str) -> None:
        try:
            await self._state.flights.release(key, stream_id)
        except SearchQAError as exc:
            log.warning("could not release a single-flight claim: %s", exc)
