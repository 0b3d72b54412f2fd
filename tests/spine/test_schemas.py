"""The checked-in JSON Schemas must equal what the models generate (no drift)."""

from __future__ import annotations

import json

from monitor.schemas import all_schemas, render, schema_for_topic
from tests.conftest import REPO


def test_checked_in_schemas_match_models() -> None:
    for name, schema in all_schemas().items():
        path = REPO / "schemas" / name
        assert path.exists(), f"schemas/{name} missing: run `wiremon schemas --write schemas`"
        assert path.read_text(encoding="utf-8") == render(schema), (
            f"schemas/{name} drifted from the model: run `wiremon schemas --write schemas`"
            " (a breaking change needs a new version file)"
        )


def test_every_checked_in_schema_is_generated() -> None:
    generated = set(all_schemas())
    on_disk = {p.name for p in (REPO / "schemas").glob("*.json")}
    assert on_disk == generated


def test_topic_schema_lookup() -> None:
    enriched = schema_for_topic("wire.enriched", "wire.")
    assert enriched is not None and enriched["$id"] == "enriched_event.v1"
    assert schema_for_topic("wire.topic.sanctions", "wire.") == enriched
    assert schema_for_topic("wire.feed-state", "wire.") is None
    json.dumps(enriched)
