"""Model adapters: the OpenAI-compatible streaming client (SGLang first)."""

from searchqa.llm.openai import OpenAIChatModel

__all__ = ["OpenAIChatModel"]
