"""Search engine adapters behind the SearchEngine protocol: ddg, searxng, local."""

from __future__ import annotations

from searchqa.errors import SearchError


class RateLimitedError(SearchError):
    """An engine refused the query because of rate limiting; it deserves a cooldown."""

    code = "search_rate_limited"


__all__ = ["RateLimitedError"]
