"""AlertService end to end with an in-memory publisher: handle, dedup across restart, throttle, breaking."""

from __future__ import annotations

import asyncio
import time

from monitor.alerts.models import SubscriptionIn
from monitor.alerts.service import AlertService

from .conftest import ServiceFactory
from .helpers import MemoryPublisher, event, topic, wait_for


def kafka_sub(name: str = "desk", **fields: object) -> SubscriptionIn:
    return SubscriptionIn.model_validate(
        {"name": name, "channel": "kafka", "topics": ["sanctions"], **fields}
    )


async def test_match_is_delivered_once_even_after_restart(make_service: ServiceFactory) -> None:
    pub = MemoryPublisher()
    svc = await make_service(pub)
    sub = await svc.create_subscription(kafka_sub(kafka_topic="desk"))
    await svc.handle(event("ev1"), published_at=time.time())
    await svc.handle(event("ev2", topics=[topic("g20_security")]), published_at=time.time())
    await wait_for(lambda: len(pub.records) == 2)
    assert [r[0] for r in pub.records] == ["wire.alerts", "wire.alerts.desk"]
    assert pub.records[0][1] == sub.id.encode()
    assert dict(pub.records[0][3])["schema_id"] == b"alert.v1"
    payload = pub.values("wire.alerts")[0]
    assert payload["event_id"] == "ev1" and payload["subscription_name"] == "desk"
    assert svc._metrics.alerts_delivered.labels(channel="kafka")._value.get() == 1
    await svc.stop()

    again = await make_service(pub)
    await again.handle(event("ev1"), published_at=time.time())  # redelivered event: no second alert
    await again.handle(event("ev1", revision=2), published_at=time.time())  # update, not include_updates
    await asyncio.sleep(0.1)
    assert len(pub.records) == 2
    [rec] = await again.recent_alerts(10)
    assert rec.status == "delivered"


async def test_updates_realert_only_with_include_updates(make_service: ServiceFactory) -> None:
    pub = MemoryPublisher()
    svc = await make_service(pub)
    await svc.create_subscription(kafka_sub("plain"))
    await svc.create_subscription(kafka_sub("updates", include_updates=True))
    await svc.handle(event("ev1"), published_at=time.time())
    await svc.handle(event("ev1", revision=2), published_at=time.time())
    await wait_for(lambda: len(pub.records) == 3)
    revisions = sorted((v["subscription_name"], v["revision"]) for v in pub.values("wire.alerts"))
    assert revisions == [("plain", 1), ("updates", 1), ("updates", 2)]


async def test_pending_deliveries_resume_after_restart(make_service: ServiceFactory) -> None:
    pub = MemoryPublisher()
    pub.fail = True
    svc = await make_service(pub, retry_initial=30, retry_max=60)
    await svc.create_subscription(kafka_sub())
    await svc.handle(event("ev1"), published_at=time.time())
    await wait_for(lambda: svc._metrics.alerts_retried.labels(channel="kafka")._value.get() == 1)
    await svc.stop()
    pub.fail = False
    again = await make_service(pub, retry_initial=30, retry_max=60)  # the 30 s backoff is not waited
    await wait_for(lambda: len(pub.records) == 1)
    assert (await again.recent_alerts(1))[0].status == "delivered"


async def test_limit_throttle_suppresses_and_survives_restart(make_service: ServiceFactory) -> None:
    pub = MemoryPublisher()
    svc = await make_service(pub)
    await svc.create_subscription(
        kafka_sub(throttle={"mode": "limit", "max_alerts": 2, "window_minutes": 60})
    )
    for i in range(3):
        await svc.handle(event(f"ev{i}"), published_at=time.time())
    await svc.stop()
    again = await make_service(pub)
    await again.handle(event("ev9"), published_at=time.time())
    await wait_for(lambda: len(pub.records) == 2)
    statuses = sorted(r.status for r in await again.recent_alerts(10))
    assert statuses == ["delivered", "delivered", "suppressed", "suppressed"]
    assert again._metrics.alerts_matched.labels(channel="kafka")._value.get() == 1


async def test_digest_collects_and_sends_one_payload(make_service: ServiceFactory) -> None:
    pub = MemoryPublisher()
    now = [1_000_000.0]
    svc = await make_service(pub, clock=lambda: now[0])
    await svc.create_subscription(kafka_sub(throttle={"mode": "digest", "every_minutes": 5}))
    await svc.handle(event("ev1"), published_at=now[0])
    now[0] += 60
    await svc.handle(event("ev2"), published_at=now[0])
    await asyncio.sleep(0.1)
    assert pub.records == []
    now[0] += 241  # 5 minutes after the first held alert
    svc._wake.set()
    await wait_for(lambda: len(pub.records) == 1)
    [digest] = pub.values("wire.alerts")
    assert digest["schema_id"] == "alert_digest.v1"
    assert [a["event_id"] for a in digest["alerts"]] == ["ev1", "ev2"]
    assert dict(pub.records[0][3])["schema_id"] == b"alert_digest.v1"


async def test_breaking_story_alerts_subscribers_who_ask(make_service: ServiceFactory) -> None:
    pub = MemoryPublisher()
    svc = await make_service(pub, breaking_agencies=3, breaking_window_minutes=10)
    await svc.create_subscription(
        kafka_sub("breaking", breaking=True, topics=["sanctions"], agencies=["nobody"])
    )
    await svc.create_subscription(kafka_sub("quiet", agencies=["nobody"]))
    for i, agency in enumerate(["AFP", "Reuters", "AP", "DPA"]):
        await svc.handle(event(f"ev{i}", agency=agency, published=None), published_at=time.time())
    await wait_for(lambda: len(pub.records) == 1)
    await asyncio.sleep(0.05)
    [alert] = pub.values("wire.alerts")
    assert alert["kind"] == "breaking" and alert["subscription_name"] == "breaking"
    assert alert["breaking"]["agencies"] == ["afp", "reuters", "ap"]
    assert len(pub.records) == 1  # once per topic per window


async def test_config_subscriptions_are_upserted_by_name(make_service: ServiceFactory) -> None:
    spec = {"name": "from-config", "channel": "kafka", "topics": ["sanctions"]}
    svc = await make_service(subscriptions=[spec])
    [sub] = svc.subscriptions()
    assert sub.source == "config"
    await svc.stop()
    svc2 = await make_service(subscriptions=[{**spec, "min_score": 0.5}])
    [sub2] = svc2.subscriptions()
    assert sub2.id == sub.id and sub2.min_score == 0.5
    await svc2.stop()
    svc3 = await make_service(subscriptions=[])
    assert svc3.subscriptions() == []


async def test_disabled_service_does_not_match(make_service: ServiceFactory) -> None:
    pub = MemoryPublisher()
    svc: AlertService = await make_service(pub, enabled=False)
    await svc.create_subscription(kafka_sub())
    await svc.handle(event("ev1"), published_at=time.time())
    assert await svc.recent_alerts(10) == []
