"""JSON Schemas of every Kafka payload, generated from the pydantic models.

The checked-in copies live in ``schemas/`` at the repository root (``wiremon schemas
--write`` regenerates them); the service generates them here on demand, so an
installed wheel needs no data copy. A test fails when a model and its checked-in
schema drift apart; a breaking change gets a new version file.
"""

from __future__ import annotations

import json
from typing import Any

from .models import EnrichedEvent

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def enriched_event_schema() -> dict[str, Any]:
    schema = EnrichedEvent.model_json_schema(mode="serialization")
    return {"$schema": SCHEMA_DIALECT, "$id": "enriched_event.v1", **schema}


def alert_schema() -> dict[str, Any]:
    from .alerts.models import alert_json_schema

    return {"$schema": SCHEMA_DIALECT, "$id": "alert.v1", **alert_json_schema()}


def alert_digest_schema() -> dict[str, Any]:
    from .alerts.models import alert_digest_json_schema

    return {"$schema": SCHEMA_DIALECT, "$id": "alert_digest.v1", **alert_digest_json_schema()}


def alerts_topic_schema() -> dict[str, Any]:
    """``wire.alerts`` carries single alerts and digests: either schema, defs hoisted to the root
    (a ``$ref`` inside ``anyOf`` resolves against the root document)."""
    defs: dict[str, Any] = {}
    branches = []
    for schema in (alert_schema(), alert_digest_schema()):
        body = {k: v for k, v in schema.items() if k not in ("$schema", "$id", "$defs")}
        defs.update(schema.get("$defs", {}))
        branches.append(body)
    return {"$schema": SCHEMA_DIALECT, "$defs": defs, "anyOf": branches}


def all_schemas() -> dict[str, dict[str, Any]]:
    """File name → schema, for every payload the monitor publishes."""
    return {
        "enriched_event.v1.json": enriched_event_schema(),
        "alert.v1.json": alert_schema(),
        "alert_digest.v1.json": alert_digest_schema(),
    }


def schema_for_topic(topic: str, prefix: str) -> dict[str, Any] | None:
    """The payload schema of a Kafka topic name, or None for topics we do not type."""
    name = topic[len(prefix) :] if topic.startswith(prefix) else topic
    if name == "enriched" or name.startswith("topic."):
        return enriched_event_schema()
    if name == "alerts":
        return alerts_topic_schema()
    return None


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
