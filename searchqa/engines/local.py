"""The local engine: BM25 search over the SQLite FTS5 index built by ``searchqa index``."""

from __future__ import annotations

import asyncio

from searchqa.documents import SearchHit
from searchqa.events import SearchLanguage
from searchqa.index.snippet import make_snippet
from searchqa.index.store import IndexStore
from searchqa.index.tokenize import match_expression, query_terms
from searchqa.settings import IndexSettings


class LocalEngine:
    """Searches the local index; an index that does not exist yet simply finds nothing."""

    name = "local"

    def __init__(self, settings: IndexSettings) -> None:
        self._path = settings.path

    async def search(
        self, query: str, *, language: SearchLanguage, max_results: int
    ) -> list[SearchHit]:
        """Up to ``max_results`` documents matching any term of ``query``, best first.

        The index is multilingual, so ``language`` does not narrow it. Raises SearchError
        when the database is corrupt or not an index.
        """
        if max_results < 1:
            return []
        return await asyncio.to_thread(self._search, query, max_results)

    def _search(self, query: str, max_results: int) -> list[SearchHit]:
        terms = query_terms(query)
        match = match_expression(terms)
        if match is None:
            return []
        store = IndexStore.open_reader(self._path)
        if store is None:
            return []
        try:
            matches = store.search(match, max_results)
        finally:
            store.close()
        return [
            SearchHit(
                url=m.url,
                title=m.title,
                snippet=make_snippet(m.marked_body, terms.grams),
                engine=self.name,
                published=m.published,
                content=m.body,
            )
            for m in matches
        ]
