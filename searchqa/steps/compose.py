"""Budget, pack and fill: pages in, the filled template and its reply budget out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from searchqa.documents import Page
from searchqa.events import Language
from searchqa.protocols import ModelInfo, Turn
from searchqa.settings import Settings
from searchqa.steps.pack import pack_context, plan_budget
from searchqa.steps.prompt import build_file_prompt, build_search_prompt
from searchqa.tokens import TokenCounter

HISTORY_TURN_TOKENS = 8
"""What the chat format spends around each earlier turn (role markers, separators)."""
FILE_TOKENS_WHEN_CONTEXT_UNKNOWN = 100_000


@dataclass(frozen=True, slots=True)
class Composed:
    """A filled template, the pages it holds (``[webpage X begin]`` = pages[X-1]) and the
    reply budget left beside it."""

    prompt: str
    pages: list[Page]
    max_tokens: int


def output_cap(max_tokens: int, model: ModelInfo) -> int:
    """The configured reply budget, lowered for models that cap their own replies."""
    return min(max_tokens, model.max_output_tokens or max_tokens)


def compose_search_prompt(
    question: str,
    pages: Sequence[Page],
    *,
    language: Language,
    cur_date: str,
    history: Sequence[Turn],
    model: ModelInfo,
    settings: Settings,
    counter: TokenCounter,
) -> Composed:
    """Budget the context, keep each page's most relevant text, fill the search template."""
    template = build_search_prompt(
        question=question, pages=[], cur_date=cur_date, language=language
    )
    headers = "".join(
        f"[webpage {i} begin]\nTitle: {p.title}\nURL: {p.url}\n" for i, p in enumerate(pages, 1)
    )
    turns = sum(counter.count(turn.content) + HISTORY_TURN_TOKENS for turn in history)
    budget = plan_budget(
        context_length=model.context_length,
        overhead_tokens=counter.count(template) + counter.count(headers) + turns,
        page_count=len(pages),
        max_tokens=output_cap(settings.llm.max_tokens, model),
        settings=settings.pack,
    )
    packed = pack_context(pages, question=question, budget=budget, counter=counter)
    prompt = build_search_prompt(
        question=question, pages=packed, cur_date=cur_date, language=language
    )
    return Composed(prompt, packed, budget.max_tokens)


def compose_file_prompt(
    question: str,
    *,
    file_name: str,
    file_content: str,
    file_url: str,
    model: ModelInfo,
    settings: Settings,
    counter: TokenCounter,
) -> Composed:
    """Fit one file into the file template, keeping its passages most relevant to the question."""
    overhead = counter.count(
        build_file_prompt(question=question, file_name=file_name, file_content="")
    )
    file_cap = max(1, (model.context_length or FILE_TOKENS_WHEN_CONTEXT_UNKNOWN) - overhead)
    budget = plan_budget(
        context_length=model.context_length,
        overhead_tokens=overhead,
        page_count=1,
        max_tokens=output_cap(settings.llm.max_tokens, model),
        settings=settings.pack.model_copy(
            update={"total_tokens": file_cap, "page_tokens": file_cap}
        ),
    )
    page = Page(url=file_url, title=file_name, text=file_content)
    packed = pack_context([page], question=question, budget=budget, counter=counter)
    prompt = build_file_prompt(
        question=question, file_name=file_name, file_content=packed[0].text if packed else ""
    )
    return Composed(prompt, [page], budget.max_tokens)
