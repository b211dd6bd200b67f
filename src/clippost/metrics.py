"""Prometheus metrics for /metrics (and a worker's metrics port); every name is `clippost_`.

Two sources, chosen so that any number of web and worker processes report true figures:

- **The database**, read when /metrics is scraped (`stats.service.gauges`): outbox rows by
  state and kind, the age of the oldest due row, the planner's lag, and the bounces and
  complaints ever reported (`delivery_events`). These are facts about the shared database,
  so every web process answers the same: scrape any one (through the load balancer is fine)
  and aggregate with max(), never sum(). Each process keeps the answer for
  `CLIPPOST_METRICS_CACHE_SECONDS`, so N Prometheus servers scraping M processes cost the
  database at most M reads per period.
- **The send loop**, counted in the process that sends: messages by transport, kind and
  outcome (sent, failed, retried, suppressed), and a histogram of each batch's send time.
  The sender reports once per batch with a tally (`SendMetrics.batch_done`), so counting
  costs a few calls per batch of hundreds of messages, not a call per message.
  Process-local by nature; across processes, one of:
  * `PROMETHEUS_MULTIPROC_DIR` (prometheus-client's multiprocess mode): every clippost
    process on a host writes its counters to files in that directory, and /metrics on any
    web process of the host (or a worker's metrics port) sums them. Point every process of
    a host at the same empty directory, emptied when the host starts.
  * otherwise each process reports its own: `clippost serve` with its in-process worker
    on its /metrics, a `clippost worker` on `CLIPPOST_WORKER_METRICS_PORT`; let Prometheus
    scrape each process and sum() them.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from clippost.db.engine import Database
from clippost.stats.service import Gauges, gauges

CONTENT_TYPE = CONTENT_TYPE_LATEST
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# A batch takes milliseconds to minutes (a slow relay, a provider's rate limit).
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
OUTCOMES = ("sent", "failed", "retried", "suppressed")

Tally = Mapping[tuple[str, str], int]  # (kind, outcome) -> messages in one batch


class SendMetrics:
    """The send loop's counters, registered on `registry`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.messages = Counter(
            "clippost_messages",
            "Messages the send loop finished with, by transport, kind and outcome "
            "(sent, failed, retried: a transient failure tried again later, suppressed).",
            ["transport", "kind", "outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "clippost_send_latency_seconds",
            "Seconds from claiming a batch to the transport's answer for all of it "
            "(rendering and sending; one observation per batch).",
            ["transport"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def batch_done(self, transport: str, tally: Tally, seconds: float) -> None:
        """Count one batch: one increment per (kind, outcome) present, one observation."""
        for (kind, outcome), count in tally.items():
            self.messages.labels(transport, kind, outcome).inc(count)
        self.latency.labels(transport).observe(seconds)


# The process's own metrics: a registry of clippost's alone (no process_ or python_ names).
REGISTRY = CollectorRegistry(auto_describe=True)


@functools.cache
def send_metrics() -> SendMetrics:
    """The process's send-loop metrics (in multiprocess mode, written to its files)."""
    return SendMetrics(REGISTRY)


def process_registry() -> CollectorRegistry:
    """What this process reports of the send loop: every process of the host in
    multiprocess mode, else its own."""
    if not os.environ.get(MULTIPROC_ENV):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


class DatabaseCollector(Collector):
    """The database's figures as metric families (a snapshot taken before the scrape)."""

    def __init__(self, snapshot: Gauges) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterable[Metric]:
        found = self._snapshot
        rows = GaugeMetricFamily(
            "clippost_outbox_rows", "Outbox rows by state and kind.", labels=["state", "kind"]
        )
        for (state, kind), count in sorted(found.queue.items()):
            rows.add_metric([state, kind], count)
        yield rows
        yield GaugeMetricFamily(
            "clippost_outbox_oldest_due_seconds",
            "How long the longest-waiting due pending row has waited (0: none is due).",
            value=found.oldest_due_seconds,
        )
        yield GaugeMetricFamily(
            "clippost_planner_lag_seconds",
            "How late the most overdue confirmed reader's next slot is (0: none is late).",
            value=found.planner_lag_seconds,
        )
        yield from _event_families(found.events)


def _event_families(events: Mapping[str, int]) -> Iterable[Metric]:
    bounces = CounterMetricFamily(
        "clippost_bounces",
        "Bounces reported (by the transport, a webhook or the bounce mailbox), by type.",
        labels=["type"],
    )
    for kind in ("hard", "soft"):
        bounces.add_metric([kind], events.get(f"{kind}_bounce", 0))
    yield bounces
    yield CounterMetricFamily(
        "clippost_complaints",
        "Spam complaints reported (webhooks and feedback loops).",
        value=events.get("complaint", 0),
    )


@dataclass(slots=True)
class _Cached:
    at: float
    snapshot: Gauges


class GaugeCache:
    """The database's figures, read at most once per `seconds` by this process."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._cached: _Cached | None = None
        self._lock = asyncio.Lock()

    async def get(self, db: Database, *, now: datetime) -> Gauges:
        async with self._lock:  # concurrent scrapes share one read
            cached = self._cached
            if cached is None or time.monotonic() - cached.at >= self._seconds:
                cached = self._cached = _Cached(time.monotonic(), await gauges(db, now=now))
            return cached.snapshot


def exposition(snapshot: Gauges) -> bytes:
    """The text format: the database's figures, then the send loop's."""
    database = CollectorRegistry(auto_describe=False)
    database.register(DatabaseCollector(snapshot))
    return generate_latest(database) + generate_latest(process_registry())
