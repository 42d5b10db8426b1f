"""Search engine adapters behind the SearchEngine protocol: ddg, searxng, local.

Adapters tell two kinds of failure apart, because the engine chain's circuit breaker counts
only one of them: ``EngineFaultError`` when the engine itself is in trouble (unreachable,
timed out, rate limited, a server error, a refusal of every query), a plain ``SearchError``
when one query got a bad answer (malformed JSON, a client error, nothing from its upstreams).
"""

from __future__ import annotations

from searchqa.errors import SearchError


class EngineFaultError(SearchError):
    """The engine itself failed; consecutive ones open its circuit."""

    code = "search_engine_fault"


class RateLimitedError(EngineFaultError):
    """An engine refused the query because of rate limiting; its circuit opens at once."""

    code = "search_rate_limited"


__all__ = ["EngineFaultError", "RateLimitedError"]
