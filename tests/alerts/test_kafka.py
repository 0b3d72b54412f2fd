"""The Kafka channel and the dead-letter topic against the real broker (Tansu), consumed with aiokafka."""

from __future__ import annotations

import json
import time
from typing import Any

from aiokafka import AIOKafkaConsumer

from monitor.alerts.models import SubscriptionIn

from .conftest import ServiceFactory
from .helpers import KafkaPublisher, event


async def consume(bootstrap: str, topic: str, count: int, within: float = 20.0) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    records: list[Any] = []
    deadline = time.monotonic() + within
    try:
        while len(records) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for part in batch.values():
                records.extend(part)
    finally:
        await consumer.stop()
    return records


async def test_kafka_channel(kafka_broker: Any, topic_prefix: str, make_service: ServiceFactory) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    alerts, extra = f"{topic_prefix}alerts", f"{topic_prefix}alerts.desk"
    pub = KafkaPublisher(bootstrap)
    await pub.start([alerts, extra, f"{topic_prefix}alerts.dead"])
    try:
        svc = await make_service(pub, topic_prefix=topic_prefix)
        sub = await svc.create_subscription(
            SubscriptionIn.model_validate(
                {"name": "desk", "channel": "kafka", "topics": ["sanctions"], "kafka_topic": "desk"}
            )
        )
        await svc.handle(event("ev1"), published_at=time.time())
        await svc.handle(event("ev2"), published_at=time.time())
        main = await consume(bootstrap, alerts, 2)
        side = await consume(bootstrap, extra, 2)
    finally:
        await pub.stop()
    assert sorted(json.loads(r.value)["event_id"] for r in main) == ["ev1", "ev2"]
    assert {r.key for r in main} == {sub.id.encode()}
    assert dict(main[0].headers)["schema_id"] == b"alert.v1"
    assert len(side) == 2
    assert svc._metrics.alerts_delivered.labels(channel="kafka")._value.get() == 2


async def test_webhook_dead_letter(
    kafka_broker: Any, topic_prefix: str, make_service: ServiceFactory
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    dead = f"{topic_prefix}alerts.dead"
    pub = KafkaPublisher(bootstrap)
    await pub.start([f"{topic_prefix}alerts", dead])
    try:
        svc = await make_service(pub, topic_prefix=topic_prefix, webhook_max_attempts=3)
        # Nothing listens on port 9 of loopback: every attempt fails to connect.
        sub = await svc.create_subscription(
            SubscriptionIn.model_validate(
                {
                    "name": "hook",
                    "channel": "webhook",
                    "webhook_url": "http://127.0.0.1:9/hook",
                    "webhook_secret": "x" * 32,
                }
            )
        )
        await svc.handle(event("ev1"), published_at=time.time())
        [record] = await consume(bootstrap, dead, 1)
    finally:
        await pub.stop()
    assert record.key == sub.id.encode()
    assert json.loads(record.value)["event_id"] == "ev1"
    headers = dict(record.headers)
    assert headers["x-wiremon-attempts"] == b"3"
    assert svc._metrics.alerts_retried.labels(channel="webhook")._value.get() == 2
    assert svc._metrics.alerts_dead.labels(channel="webhook")._value.get() == 1
    [rec] = await svc.recent_alerts(1)
    assert rec.status == "dead"
