"""Budget, pack and fill: pages in, the filled template and its reply budget out."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from searchqa.documents import Page
from searchqa.events import Language
from searchqa.protocols import ModelInfo, Turn
from searchqa.settings import PackSettings, Settings
from searchqa.steps.pack import pack_context, plan_budget
from searchqa.steps.prompt import build_file_prompt, build_search_prompt
from searchqa.tokens import TokenCounter, count_each

HISTORY_TURN_TOKENS = 8
"""What the chat format spends around each earlier turn (role markers, separators)."""
FILE_TOKENS_WHEN_CONTEXT_UNKNOWN = 100_000

_P = ParamSpec("_P")
_R = TypeVar("_R")
_COMPOSER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="searchqa-compose")


async def compose_in_turn(function: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
    """``function(*args, **kwargs)`` off the event loop, one call at a time, in the order asked.

    Composing is tens of milliseconds of CPU that mostly holds the GIL. Side by side in
    threads, prompts asked together all come out at the end (16 questions: every one about 16
    compositions late, and the model server idle meanwhile); one after another, the first
    goes to the model after one composition and the next ones follow while it prefills. A
    caller cancelled while waiting its turn leaves the queue.
    """
    call = functools.partial(contextvars.copy_context().run, function, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_COMPOSER, call)


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


def pack_settings(settings: Settings, model: ModelInfo) -> PackSettings:
    """The packing settings, with page text capped where the model asks for less."""
    pack = settings.pack
    if model.page_tokens is None or model.page_tokens >= pack.total_tokens:
        return pack
    return pack.model_copy(update={"total_tokens": model.page_tokens})


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
    # Without the question the template is the same all day for a language, so the counter
    # remembers its count; the question is counted on its own.
    template = build_search_prompt(question="", pages=[], cur_date=cur_date, language=language)
    headers = "".join(
        f"[webpage {i} begin]\nTitle: {p.title}\nURL: {p.url}\n" for i, p in enumerate(pages, 1)
    )
    counts = count_each(counter, [template, question, headers, *(t.content for t in history)])
    budget = plan_budget(
        context_length=model.context_length,
        overhead_tokens=sum(counts) + HISTORY_TURN_TOKENS * len(history),
        page_count=len(pages),
        max_tokens=output_cap(settings.llm.max_tokens, model),
        settings=pack_settings(settings, model),
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
