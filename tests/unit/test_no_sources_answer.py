"""A model that must not answer from nowhere says so when search found nothing."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence

import pytest

from searchqa.documents import PreparedPrompt, Stopwatch
from searchqa.events import AnswerEvent, DoneEvent, Language, Source
from searchqa.protocols import ModelDelta, ModelInfo, Turn
from searchqa.steps.generate import NO_SOURCES_ANSWER, generate_answer


class ScriptedModel:
    """A ChatModel at the edge: says whether it may answer unsourced, and records calls."""

    def __init__(self, *, answers_without_sources: bool) -> None:
        self.info = ModelInfo(id="m", answers_without_sources=answers_without_sources)
        self.prompts: list[str] = []

    async def describe(self) -> ModelInfo:
        return self.info

    async def stream(
        self,
        prompt: str,
        *,
        max_tokens: int,
        history: Sequence[Turn] = (),
        temperature: float | None = None,
    ) -> AsyncGenerator[ModelDelta, None]:
        self.prompts.append(prompt)
        yield ModelDelta(content="Paris is the capital [citation:1].")

    async def aclose(self) -> None:
        pass


def prepared(sources: list[Source]) -> PreparedPrompt:
    flags = [] if sources else ["no_sources"]
    return PreparedPrompt(prompt="q", sources=sources, max_tokens=16, flags=flags)


async def run(model: ScriptedModel, prompt: PreparedPrompt, language: Language) -> list[object]:
    events = generate_answer(prompt, model=model, stopwatch=Stopwatch(), language=language)
    return [event async for event in events]


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_the_embedded_kind_says_search_found_nothing_in_the_question_language(
    language: Language,
) -> None:
    model = ScriptedModel(answers_without_sources=False)
    events = await run(model, prepared([]), language)
    assert model.prompts == []  # never asked: it would invent an answer
    answers = [e.text for e in events if isinstance(e, AnswerEvent)]
    assert answers == [NO_SOURCES_ANSWER[language]]
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert done.answer == NO_SOURCES_ANSWER[language]
    assert done.flags == ["no_sources"]


async def test_a_real_model_still_answers_and_a_sourced_question_is_asked() -> None:
    server = ScriptedModel(answers_without_sources=True)
    events = await run(server, prepared([]), "en")
    assert server.prompts == ["q"]
    assert isinstance(events[-1], DoneEvent)
    assert events[-1].answer.startswith("Paris")

    source = Source(index=1, url="https://example.org", title="t", site="example.org", snippet="")
    embedded = ScriptedModel(answers_without_sources=False)
    await run(embedded, prepared([source]), "en")
    assert embedded.prompts == ["q"]
