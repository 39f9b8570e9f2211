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

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
