"""Cache keys: what makes two requests "the same".

Keys are short and fixed-length (a SHA-256 of the parts), safe to log, and versioned: a change to
what is stored bumps the version so old entries are simply never read again. Backends add their
own prefix (``RedisSettings.prefix``) in front.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Sequence

_VERSION = "v1"
_SPACES = re.compile(r"\s+")
_EDGE_PUNCTUATION = "?？!！.。,，;；:：、…~～ \"'“”‘’「」"


def normalize_question(question: str) -> str:
    """Fold case, width and spacing, and trailing punctuation, which never change the answer.

    ``"  What is  HTTP caching？"`` and ``"what is http caching"`` are the same question.
    """
    text = unicodedata.normalize("NFKC", question).casefold()
    text = _SPACES.sub(" ", text)
    return text.strip(_EDGE_PUNCTUATION)


def _digest(kind: str, *parts: object) -> str:
    payload = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return f"{kind}:{_VERSION}:{hashlib.sha256(payload.encode()).hexdigest()}"


def search_key(engine: str, query: str, language: str) -> str:
    """Search results of one engine for one query (spacing folded, case kept)."""
    return _digest("search", engine, _SPACES.sub(" ", query).strip(), language)


def page_key(url: str) -> str:
    """Extracted text of one page."""
    return _digest("page", url)


def answer_key(
    question: str,
    *,
    language: str,
    engines: Sequence[str],
    max_sources: int | None,
    date: str,
) -> str:
    """A whole answer; ``date`` is the one put in the prompt, so answers age out daily.

    Also the single-flight key: identical questions arriving together share one generation.
    """
    return _digest(
        "answer", normalize_question(question), language, list(engines), max_sources, date
    )


def rate_key(identity: str, *, scope: str = "answer") -> str:
    """A rate-limit bucket: an API key's hash or a client address, per scope."""
    return _digest("rate", scope, identity)
