"""Prometheus metrics of one process (a registry of its own, so tests never collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest


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
        self.connector_outbox = Gauge(
            "aduan_connector_outbox_messages",
            "Messages in a connector's outbox, by state (pending, retrying, rejected, delivered)",
            ["connector", "state"],
            registry=self.registry,
        )

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

    def connector_outbox_counts(self, connector: str, counts: dict[str, int]) -> None:
        for state, value in counts.items():
            self.connector_outbox.labels(connector, state).set(value)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
