"""Prometheus metrics of one process (a registry of its own, so tests never collide)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from infrastructure.breaker import STATES

if TYPE_CHECKING:
    from infrastructure.breaker import CircuitBreaker
    from infrastructure.group_commit import GroupCommitter

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.events = Counter(
            "aduan_read_model_events",
            "Events a read model has taken in (wanted or not)",
            ["read_model"],
            registry=self.registry,
        )
        self.positions = Gauge(
            "aduan_read_model_position",
            "Position of the last event a read model has taken in",
            ["read_model"],
            registry=self.registry,
        )
        self.lag = Gauge(
            "aduan_read_model_lag_events",
            "Events in the log that a read model has not taken in yet",
            ["read_model"],
            registry=self.registry,
        )
        self.head = Gauge(
            "aduan_event_log_head",
            "Position of the newest event in the log",
            registry=self.registry,
        )
        self.alerts = Counter(
            "aduan_sla_alerts", "SLA alerts raised", ["state"], registry=self.registry
        )
        self.alerts_delivered = Counter(
            "aduan_sla_alerts_delivered",
            "SLA alerts the notifier delivered",
            registry=self.registry,
        )

        self.connector_imports = Counter(
            "aduan_connector_reports_imported",
            "Reports a connector filed as new cases",
            ["connector"],
            registry=self.registry,
        )
        self.connector_polls = Counter(
            "aduan_connector_polls",
            "Polls of a connector's peer, by result (ok, failed)",
            ["connector", "result"],
            registry=self.registry,
        )
        self.connector_last_success = Gauge(
            "aduan_connector_last_success_timestamp_seconds",
            "When a connector last polled its peer successfully (Unix time)",
            ["connector"],
            registry=self.registry,
        )
        self.connector_messages = Counter(
            "aduan_connector_messages",
            "Outbound message attempts, by kind and result (delivered, failed, rejected)",
            ["connector", "kind", "result"],
            registry=self.registry,
        )
        self.connector_inbound_items = Counter(
            "aduan_connector_inbound",
            "Inbound items a connector took in or refused, by kind and result",
            ["connector", "kind", "result"],
            registry=self.registry,
        )
        self.connector_outbox = Gauge(
            "aduan_connector_outbox_messages",
            "Messages in a connector's outbox, by state (pending, retrying, rejected, delivered)",
            ["connector", "state"],
            registry=self.registry,
        )

        # Group commit of creates (PostgreSQL): what the writer does, as it does it.
        self.batch_size = Histogram(
            "aduan_group_commit_batch_size",
            "Creates stored together in one batch (one transaction for keys, one for events)",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.queue_wait = Histogram(
            "aduan_group_commit_queue_wait_seconds",
            "How long a create waited in the queue before the writer took it",
            buckets=SECONDS_BUCKETS,
            registry=self.registry,
        )
        self.commit_time = Histogram(
            "aduan_group_commit_commit_seconds",
            "How long the writer took to store one batch (its keys and its events)",
            buckets=SECONDS_BUCKETS,
            registry=self.registry,
        )
        self.commit_rejected = Counter(
            "aduan_group_commit_rejected",
            "Creates turned away by the writer (back-pressure): queue_full, gave_up_queued, "
            "stopped",
            ["reason"],
            registry=self.registry,
        )

    # Group commit (GroupCommitter's observer) ------------------------------------------------

    def committed(self, requests: int, seconds: float) -> None:
        self.batch_size.observe(requests)
        self.commit_time.observe(seconds)

    def taken(self, waited: float) -> None:
        self.queue_wait.observe(waited)

    def rejected(self, reason: str) -> None:
        self.commit_rejected.labels(reason).inc()

    def watch(
        self, committer: GroupCommitter | None = None, breaker: CircuitBreaker | None = None
    ) -> None:
        """Read the writer's and the breaker's state at each scrape."""
        self.registry.register(_StateCollector(committer, breaker))

    # Read models -----------------------------------------------------------------------------

    def processed(self, name: str, events: int) -> None:
        self.events.labels(name).inc(events)

    def position(self, name: str, position: int, head: int) -> None:
        self.positions.labels(name).set(position)
        self.lag.labels(name).set(max(head - position, 0))
        self.head.set(head)

    def alert_raised(self, state: str) -> None:
        self.alerts.labels(state).inc()

    def alert_delivered(self) -> None:
        self.alerts_delivered.inc()

    def connector_polled(self, connector: str, ok: bool, at: float | None = None) -> None:
        self.connector_polls.labels(connector, "ok" if ok else "failed").inc()
        if ok and at is not None:
            self.connector_last_success.labels(connector).set(at)

    def connector_imported(self, connector: str, reports: int) -> None:
        self.connector_imports.labels(connector).inc(reports)

    def connector_message(self, connector: str, kind: str, result: str) -> None:
        self.connector_messages.labels(connector, kind, result).inc()

    def connector_inbound(self, connector: str, kind: str, result: str) -> None:
        self.connector_inbound_items.labels(connector, kind, result).inc()

    def connector_outbox_counts(self, connector: str, counts: dict[str, int]) -> None:
        for state, value in counts.items():
            self.connector_outbox.labels(connector, state).set(value)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _StateCollector(Collector):
    def __init__(self, committer: GroupCommitter | None, breaker: CircuitBreaker | None) -> None:
        self._committer = committer
        self._breaker = breaker

    def collect(self) -> Iterator[Metric]:
        if self._committer is not None:
            stats = self._committer.stats
            yield GaugeMetricFamily(
                "aduan_group_commit_queued",
                "Creates waiting in the queue, not yet taken by the writer",
                value=self._committer.waiting(),
            )
            yield CounterMetricFamily(
                "aduan_group_commit_fallbacks",
                "Batches saved one create at a time after a clash",
                value=stats.fallbacks,
            )
            yield CounterMetricFamily(
                "aduan_group_commit_restarts",
                "Writer threads replaced after dying",
                value=stats.restarts,
            )
        if self._breaker is not None:
            state = GaugeMetricFamily(
                "aduan_db_breaker_state",
                "The PostgreSQL circuit breaker's state (1 for the current one)",
                labels=["state"],
            )
            current = self._breaker.state
            for name in STATES:
                state.add_metric([name], 1.0 if name == current else 0.0)
            yield state
            b = self._breaker.stats
            for name, value, text in (
                ("opened", b.opened, "Times the breaker opened"),
                ("rejected", b.rejected, "Calls failed at once, without asking the database"),
                ("probes", b.probes, "Calls let through to probe the database while half-open"),
                ("failures", b.failures, "Calls that could not reach the database"),
            ):
                yield CounterMetricFamily(f"aduan_db_breaker_{name}", text, value=value)
