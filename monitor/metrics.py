"""Prometheus metrics of one monitor instance.

Every metric lives on a ``Metrics`` object with its own ``CollectorRegistry``, so two
instances (tests, or two services in one process) never share counters. Labels are
bounded: feed ids come from the configuration, topics from the topic definitions,
agencies from the configuration, languages from a fixed set plus ``other``; no label
ever carries item data.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from . import __version__

POLL_OUTCOMES = ("ok", "not_modified", "http_error", "timeout", "parse_error", "connect_error", "rejected")
ITEM_STATUSES = ("new", "updated", "duplicate")
KNOWN_LANGUAGES = frozenset({"fr", "en", "de", "es", "ru", "ar", "it", "pt", "tr", "zh"})


def language_label(language: str | None) -> str:
    """Bound the language label: known codes as is, anything else ``other``."""
    if not language:
        return "unknown"
    return language if language in KNOWN_LANGUAGES else "other"


class Metrics:
    """All metrics of the service; see the module docstring for the label rules."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        # the *_created series double the series count and no dashboard or rule reads them
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.build_info = Gauge(
            "wiremon_build_info", "Version of the running monitor.", ["version"], registry=r
        )
        self.build_info.labels(version=__version__).set(1)
        self.feeds_configured = Gauge("wiremon_feeds_configured", "Feeds this instance polls.", registry=r)
        # -- ingest
        self.polls = Counter("wiremon_polls_total", "Feed polls by outcome.", ["feed", "outcome"], registry=r)
        self.fetch_errors = Counter(
            "wiremon_fetch_errors_total", "Failed polls by specific reason.", ["feed", "reason"], registry=r
        )
        self.parse_errors = Counter(
            "wiremon_parse_errors_total",
            "Feeds that parsed with problems (bozo) or not at all, by kind.",
            ["feed", "kind"],
            registry=r,
        )
        self.fetch_duration = Histogram(
            "wiremon_fetch_duration_seconds",
            "Time to fetch one feed (request to full body).",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.feed_last_success = Gauge(
            "wiremon_feed_last_success_timestamp_seconds",
            "Unix time of the last successful poll (ok or not_modified) per feed.",
            ["feed"],
            registry=r,
        )
        self.feed_consecutive_failures = Gauge(
            "wiremon_feed_consecutive_failures", "Failed polls in a row per feed.", ["feed"], registry=r
        )
        self.items = Counter("wiremon_items_total", "Items seen, by status.", ["feed", "status"], registry=r)
        self.items_topic = Counter(
            "wiremon_items_topic_total",
            "New or updated items per matched topic, agency and language.",
            ["topic", "agency", "language"],
            registry=r,
        )
        self.items_agency = Counter(
            "wiremon_items_agency_total",
            "New or updated items per agency and language.",
            ["agency", "language"],
            registry=r,
        )
        # -- publish
        self.publish = Counter(
            "wiremon_publish_total", "Kafka publish attempts of events by outcome.", ["outcome"], registry=r
        )
        self.item_age = Histogram(
            "wiremon_item_age_seconds",
            "Item published (by the agency) to Kafka acknowledgement.",
            buckets=(1, 2, 5, 10, 30, 60, 120, 300, 900, 3600, 21600, 86400),
            registry=r,
        )
        self.pipeline_latency = Histogram(
            "wiremon_pipeline_latency_seconds",
            "Item fetched by the monitor to Kafka acknowledgement.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        self.kafka_up = Gauge(
            "wiremon_kafka_up", "1 when the last publish or probe reached Kafka.", registry=r
        )
        self.outbox_pending = Gauge("wiremon_outbox_pending", "Events waiting in the outbox.", registry=r)
        self.outbox_capacity = Gauge(
            "wiremon_outbox_capacity", "Maximum events the outbox holds.", registry=r
        )
        self.outbox_rejected = Counter(
            "wiremon_outbox_rejected_total",
            "Items refused because the outbox was full (their feed is re-polled later).",
            registry=r,
        )
        self.outbox_dead = Counter(
            "wiremon_outbox_dead_total",
            "Events moved to the outbox_dead table after Kafka refused them max_attempts times.",
            registry=r,
        )
        # -- alerts
        self.alerts_matched = Counter(
            "wiremon_alerts_matched_total", "Alerts matched, by channel.", ["channel"], registry=r
        )
        self.alerts_delivered = Counter(
            "wiremon_alerts_delivered_total", "Alerts delivered, by channel.", ["channel"], registry=r
        )
        self.alerts_retried = Counter(
            "wiremon_alerts_retried_total", "Alert delivery retries, by channel.", ["channel"], registry=r
        )
        self.alerts_dead = Counter(
            "wiremon_alerts_dead_lettered_total",
            "Alerts sent to the dead-letter topic.",
            ["channel"],
            registry=r,
        )
        self.alert_latency = Histogram(
            "wiremon_alert_delivery_latency_seconds",
            "Event published to alert delivered (webhook 2xx / Kafka ack).",
            ["channel"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        # -- classifier
        self.topic_reloads = Counter(
            "wiremon_topic_reloads_total", "Topic definition reloads by outcome.", ["outcome"], registry=r
        )

    def render(self) -> bytes:
        """The exposition text for ``/metrics``."""
        return generate_latest(self.registry)
