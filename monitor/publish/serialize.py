"""Kafka message layout of an enriched event: key, value, headers, target topics."""

from __future__ import annotations

from ..config import KafkaConfig
from ..models import ENRICHED_SCHEMA_ID, EnrichedEvent

CONTENT_TYPE = b"application/json"


def event_value(event: EnrichedEvent) -> bytes:
    """UTF-8 JSON of the event, exactly as validated by ``schemas/enriched_event.v1.json``."""
    return event.model_dump_json().encode("utf-8")


def event_headers(status: str, revision: int) -> list[tuple[str, bytes]]:
    return [
        ("schema_id", ENRICHED_SCHEMA_ID.encode()),
        ("content-type", CONTENT_TYPE),
        ("event-status", status.encode()),
        ("revision", str(revision).encode()),
    ]


def event_topics(config: KafkaConfig, topic_ids: tuple[str, ...] | list[str]) -> list[str]:
    """``wire.enriched`` plus one ``wire.topic.<id>`` per matched topic."""
    return [f"{config.topic_prefix}enriched", *(f"{config.topic_prefix}topic.{t}" for t in topic_ids)]
