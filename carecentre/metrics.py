"""Prometheus metrics, in a registry per app: no global state, so tests build many apps."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.ingested = Counter(
            "carecentre_ingested_messages",
            "Inbound messages through ingest(), by channel and outcome.",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.raw_failed = Counter(
            "carecentre_raw_parse_failures",
            "Payloads kept because they could not be parsed.",
            ["channel"],
            registry=self.registry,
        )
        self.outbox = Counter(
            "carecentre_outbox_attempts",
            "Outbox send attempts, by channel and outcome.",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.http = Histogram(
            "carecentre_http_request_duration_seconds",
            "HTTP request duration, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.subscribers = Gauge(
            "carecentre_event_subscribers",
            "Live event subscribers (dashboards) in this process.",
            registry=self.registry,
        )
        self.outbox_pending = Gauge(
            "carecentre_outbox_pending",
            "Outbox items waiting to be sent, as of the dispatcher's last pass.",
            registry=self.registry,
        )
        self.inbound_backlog = Gauge(
            "carecentre_inbound_backlog",
            "Messages stored and answered in this process, not yet filed on a ticket.",
            registry=self.registry,
        )
