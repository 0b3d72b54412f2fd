"""The alert payload schemas (to be checked in as schemas/alert.v1.json) validate real payloads."""

from __future__ import annotations

import json
import time

import jsonschema

from monitor.alerts.models import SubscriptionIn, alert_digest_json_schema, alert_json_schema

from .conftest import ServiceFactory
from .helpers import MemoryPublisher, event, wait_for


async def test_delivered_payloads_validate(make_service: ServiceFactory) -> None:
    pub = MemoryPublisher()
    svc = await make_service(pub, breaking_agencies=2)
    await svc.create_subscription(SubscriptionIn(name="k", channel="kafka", breaking=True))
    await svc.handle(event("ev1", agency="AFP", published=None), published_at=time.time())
    await svc.handle(event("ev2", agency="AP", published=None), published_at=time.time())
    await wait_for(lambda: len(pub.records) == 3)  # two matches and one breaking alert
    schema = alert_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    kinds = set()
    for value in pub.values("wire.alerts"):
        jsonschema.validate(value, schema, cls=jsonschema.Draft202012Validator)
        kinds.add(value["kind"])
    assert kinds == {"match", "breaking"}
    assert schema["properties"]["schema_id"]["const"] == "alert.v1"
    jsonschema.Draft202012Validator.check_schema(alert_digest_json_schema())
    json.dumps(schema)  # serialisable as the checked-in file
