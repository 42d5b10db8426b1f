"""What identical requests share: the answer cache and single-flight.

Cache and single-flight failures are never fatal: they are logged and the answer goes on
without them.
"""

from __future__ import annotations

import json
import logging

from pydantic import ValidationError

from searchqa.errors import SearchQAError
from searchqa.events import Event, parse_event
from searchqa.kit import AnswerKit
from searchqa.settings import Settings
from searchqa.state.keys import answer_key
from searchqa.state.protocols import StateBackend
from searchqa.steps.language import detect_language
from searchqa.steps.prompt import format_date, today_in_zone

FLIGHT_TTL_S = 900.0
"""A leader that died without releasing its claim blocks nobody for longer than this."""
log = logging.getLogger(__name__)


class SharedAnswers:
    """Finished answers by key, and claims on answers being generated."""

    def __init__(self, state: StateBackend, settings: Settings) -> None:
        self._state = state
        self._settings = settings

    def key(self, question: str, kit: AnswerKit, max_sources: int | None) -> str:
        """Same key = same answer: question, language, engines, pages and date."""
        language = detect_language(question)
        day = today_in_zone(self._settings.prompt.timezone)
        return answer_key(
            question,
            language=language,
            engines=kit.chain.engine_names,
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
