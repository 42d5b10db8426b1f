"""Prometheus metrics summed over every worker, served at ``/metrics``.

``searchqa serve --workers N`` runs N processes and a scrape reaches only one of them, so each
process adds its observations to the shared ``StateBackend.counters`` (a Redis hash; in-process
without Redis) and ``/metrics`` renders that hash: whichever worker answers, the numbers are
the totals of all. prometheus-client's multiprocess mode would do the same through files in a
shared directory, but only on one host, with the directory to wipe between runs; the counters
already exist wherever the workers share Redis. Consequence: every process sharing a Redis
(and key prefix) reports the same totals, so scrape one address per deployment (the service,
not every pod), or aggregate with ``max`` rather than ``sum``.

Observations are recorded in memory without waiting and added to the counters every
``flush_interval_s`` and before each scrape. Histograms are kept as a counter per bucket (not
cumulative) plus a sum, and assembled at render time; a gauge of open streams is opened minus
closed streams. Counters other parts of searchqa add (``state_errors{operation}`` from the Redis
state) are rendered too, as ``searchqa_<name>_total``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from contextlib import suppress
from typing import Any

from litestar import Request, Response, get
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from searchqa.api.route_facts import route_facts
from searchqa.errors import SearchQAError
from searchqa.state.protocols import CounterKey, Counters, counter_key

PREFIX = "searchqa_"
BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0, 300.0)
FLUSH_INTERVAL_S = 1.0

COUNTERS = {
    "http_requests": "HTTP requests by route template, method and status",
    "answers": "Answers that ended with a done event (cached: replayed from the answer cache)",
    "errors": "Answers that ended with an error event, by error code",
    "cache_hits": "Cache lookups that found an entry, by cache (answer, search, page)",
    "cache_misses": "Cache lookups that found nothing, by cache (answer, search, page)",
    "state_errors": "Failed operations on the shared state (Redis), by operation",
    "slack_feedback": "Feedback clicks on Slack answers, by rating (good, bad)",
}
HISTOGRAMS = {
    "stage_duration_seconds": "Seconds from request start until a stage ended "
    "(search, fetch, first_answer, total), from each generated answer's done event",
    "time_to_first_token_seconds": "Seconds from request start to the model's first token",
}
ACTIVE_STREAMS = "active_streams"
STREAMS_OPENED, STREAMS_CLOSED = "streams_opened", "streams_closed"
_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
MEDIA_TYPE = "text/plain; version=0.0.4"
"""Prometheus' text format, as ``generate_latest`` writes it (Litestar adds the charset)."""

log = logging.getLogger(__name__)


def bucket_label(seconds: float) -> str:
    """The ``le`` of the narrowest bucket that holds ``seconds``."""
    return _le(next((b for b in BUCKETS_S if seconds <= b), math.inf))


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


class Metrics:
    """This process's observations, pending until they are added to the shared counters."""

    def __init__(self, *, flush_interval_s: float = FLUSH_INTERVAL_S) -> None:
        self._flush_interval_s = flush_interval_s
        self._pending: defaultdict[CounterKey, float] = defaultdict(float)
        self._counters: Counters | None = None
        self._flusher: asyncio.Task[None] | None = None

    # -- recording (never waits) ----------------------------------------------------------------

    def count(self, name: str, labels: Mapping[str, str] | None = None, amount: float = 1) -> None:
        self._pending[counter_key(name, labels or {})] += amount

    def observe(self, name: str, seconds: float, labels: Mapping[str, str] | None = None) -> None:
        """One observation of histogram ``name``."""
        labels = labels or {}
        self.count(f"{name}_bucket", {**labels, "le": bucket_label(seconds)})
        self.count(f"{name}_sum", labels, seconds)

    # -- sharing ----------------------------------------------------------------------------------

    def start(self, counters: Counters) -> None:
        """Add observations to ``counters`` from now on, every ``flush_interval_s``."""
        self._counters = counters
        self._flusher = asyncio.create_task(self._flush_periodically())

    async def aclose(self) -> None:
        """Stop flushing periodically, and flush what is left."""
        if self._flusher is not None:
            self._flusher.cancel()
            with suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        await self.flush()

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._flush_interval_s)
            await self.flush()

    async def flush(self) -> None:
        """Add what is pending to the shared counters; keep what could not be added."""
        counters = self._counters
        if counters is None or not self._pending:
            return
        batch = list(self._pending.items())
        self._pending.clear()
        for done, ((name, labels), amount) in enumerate(batch):
            try:
                await counters.incr(name, dict(labels), amount)
            except BaseException as exc:
                for key, left in batch[done:]:
                    self._pending[key] += left
                if not isinstance(exc, SearchQAError):
                    raise
                log.warning("metrics kept in this process for now: %s", exc.message)
                return

    async def snapshot(self) -> dict[CounterKey, float]:
        """The totals of every worker, including this one's latest observations."""
        await self.flush()
        if self._counters is None:
            return dict(self._pending)
        return await self._counters.snapshot()

    async def exposition(self) -> bytes:
        """The Prometheus text format of the totals."""
        return generate_latest(SnapshotCollector(await self.snapshot()))


class SnapshotCollector(Collector):
    """Prometheus metric families built from a snapshot of the shared counters."""

    def __init__(self, values: Mapping[CounterKey, float]) -> None:
        self._values = values

    def collect(self) -> Iterable[Metric]:
        series: defaultdict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
        for (name, labels), value in sorted(self._values.items()):
            series[name].append((dict(labels), value))
        opened = sum(value for _, value in series.pop(STREAMS_OPENED, []))
        closed = sum(value for _, value in series.pop(STREAMS_CLOSED, []))
        yield GaugeMetricFamily(
            PREFIX + ACTIVE_STREAMS,
            "Event streams (SSE responses) open now",
            value=max(0.0, opened - closed),
        )
        for name, doc in HISTOGRAMS.items():
            yield _histogram(
                name, doc, series.pop(f"{name}_bucket", []), series.pop(f"{name}_sum", [])
            )
        for name in sorted(set(COUNTERS) | set(series)):
            if _NAME.match(name):
                yield _counter(name, COUNTERS.get(name, f"searchqa counter {name}"), series[name])


def _label_names(rows: Iterable[tuple[dict[str, str], float]]) -> list[str]:
    return sorted({label for labels, _ in rows for label in labels if _NAME.match(label)})


def _counter(name: str, doc: str, rows: list[tuple[dict[str, str], float]]) -> Metric:
    names = _label_names(rows)
    family = CounterMetricFamily(PREFIX + name, doc, labels=names)
    for labels, value in rows:
        family.add_metric([labels.get(label, "") for label in names], value)
    return family


def _histogram(
    name: str,
    doc: str,
    buckets: list[tuple[dict[str, str], float]],
    sums: list[tuple[dict[str, str], float]],
) -> Metric:
    """Cumulative buckets from per-bucket counts; ``+Inf`` (= count) is their total."""
    per_series: defaultdict[tuple[tuple[str, str], ...], dict[float, float]] = defaultdict(dict)
    for labels, value in buckets:
        bound = float(labels.pop("le", "+Inf"))
        key = tuple(sorted(labels.items()))
        per_series[key][bound] = per_series[key].get(bound, 0.0) + value
    totals = {tuple(sorted(labels.items())): value for labels, value in sums}
    names = sorted({label for key in per_series for label, _ in key})
    family = HistogramMetricFamily(PREFIX + name, doc, labels=names)
    for key, counts in sorted(per_series.items()):
        bounds = sorted(set(BUCKETS_S) | set(counts) | {math.inf})
        cumulative, running = [], 0.0
        for bound in bounds:
            running += counts.get(bound, 0.0)
            cumulative.append((_le(bound), running))
        labels = dict(key)
        family.add_metric(
            [labels.get(label, "") for label in names], cumulative, totals.get(key, 0.0)
        )
    return family


@get(
    "/metrics",
    tags=["operations"],
    media_type=MEDIA_TYPE,
    summary="Prometheus metrics",
    description="Totals over every worker, in the Prometheus text format.",
    opt=route_facts(access="operator", quiet=True),
)
async def metrics_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus metrics, summed over every worker."""
    metrics: Metrics = request.app.state.metrics
    return Response(await metrics.exposition(), media_type=MEDIA_TYPE)
