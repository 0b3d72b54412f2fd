"""JSON Schemas of every Kafka payload, generated from the pydantic models.

The checked-in copies live in ``schemas/`` at the repository root (``wiremon schemas
--write`` regenerates them); the service generates them here on demand, so an
installed wheel needs no data copy. A test fails when a model and its checked-in schema drift apart; a breaking
change gets a new version file.
"""

from __future__ import annotations

import json
from typing import Any

from .models import EnrichedEvent

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def enriched_event_schema() -> dict[str, Any]:
    schema = EnrichedEvent.model_json_schema(mode="serialization")
    return {"$schema": SCHEMA_DIALECT, "$id": "enriched_event.v1", **schema}


def alert_schema() -> dict[str, Any] | None:
    try:
        from .alerts.models import alert_json_schema  # type: ignore[attr-defined]
    except ImportError:
        return None
    schema: dict[str, Any] = alert_json_schema()
    return {"$schema": SCHEMA_DIALECT, "$id": "alert.v1", **schema}


def all_schemas() -> dict[str, dict[str, Any]]:
    """File name → schema, for every payload the monitor publishes."""
    out = {"enriched_event.v1.json": enriched_event_schema()}
    alert = alert_schema()
    if alert is not None:
        out["alert.v1.json"] = alert
    return out


def schema_for_topic(topic: str, prefix: str) -> dict[str, Any] | None:
    """The payload schema of a Kafka topic name, or None for topics we do not type."""
    name = topic[len(prefix) :] if topic.startswith(prefix) else topic
    if name == "enriched" or name.startswith("topic."):
        return enriched_event_schema()
    if name == "alerts":
        return alert_schema()
    return None


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
