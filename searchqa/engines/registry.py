"""Turn configured engine names into engines."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from searchqa.engines.ddg import DdgsEngine
from searchqa.engines.searxng import SearxngEngine
from searchqa.errors import InvalidRequestError
from searchqa.protocols import SearchEngine
from searchqa.settings import Settings


def _build_ddg(settings: Settings) -> SearchEngine:
    return DdgsEngine(backend=settings.search.ddg_backend, timeout_s=settings.search.timeout_s)


def _build_searxng(settings: Settings) -> SearchEngine:
    url = (settings.search.searxng_url or "").strip()
    if not url:
        raise InvalidRequestError(
            "search engine 'searxng' needs SEARCHQA_SEARCH__SEARXNG_URL "
            "(the SearXNG base URL, e.g. http://localhost:8080)"
        )
    if not url.startswith(("http://", "https://")):
        raise InvalidRequestError(
            f"SEARCHQA_SEARCH__SEARXNG_URL must be an http(s) URL, got {url!r}"
        )
    return SearxngEngine(url, timeout_s=settings.search.timeout_s)


def _build_local(settings: Settings) -> SearchEngine:
    # Imported here so the web engines work without the index module's dependencies.
    from searchqa.engines.local import LocalEngine

    return LocalEngine(settings.index)


_BUILDERS: dict[str, Callable[[Settings], SearchEngine]] = {
    "ddg": _build_ddg,
    "searxng": _build_searxng,
    "local": _build_local,
}
KNOWN_ENGINES = tuple(_BUILDERS)


def build_engines(names: Sequence[str], settings: Settings) -> list[SearchEngine]:
    """Build the engines named (``ddg``, ``searxng``, ``local``), in the given order."""
    wanted = [name.strip().lower() for name in names if name.strip()]
    if not wanted:
        raise InvalidRequestError(
            f"no search engines configured; choose from: {', '.join(KNOWN_ENGINES)}"
        )
    unknown = [name for name in wanted if name not in _BUILDERS]
    if unknown:
        raise InvalidRequestError(
            f"unknown search engine {', '.join(map(repr, unknown))}; "
            f"known engines: {', '.join(KNOWN_ENGINES)}"
        )
    repeated = sorted({name for name in wanted if wanted.count(name) > 1})
    if repeated:
        raise InvalidRequestError(f"search engine listed twice: {', '.join(repeated)}")
    return [_BUILDERS[name](settings) for name in wanted]
