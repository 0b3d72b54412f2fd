"""The SQLite store on a temp dir: subscriptions, seen marks, deliveries, digests, restart."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from monitor.alerts.models import Alert, AlertDigest
from monitor.alerts.store import AlertStore, NameTakenError, NewAlert

from .helpers import NOW, subscription, topic


def alert(alert_id: str, sub_id: str = "sub_1", event_id: str = "ev1", revision: int = 1) -> Alert:
    return Alert(
        alert_id=alert_id,
        kind="match",
        subscription_id=sub_id,
        subscription_name=sub_id,
        event_id=event_id,
        revision=revision,
        event_status="new",
        topics=[topic("sanctions")],
        title="t",
        link=None,
        agency="AFP",
        language="fr",
        urgency="routine",
        published=NOW,
        created_at=NOW,
    )


def new(a: Alert, status: str = "queued") -> NewAlert:
    return NewAlert(a, "kafka", status, 1.0, a.model_dump_json().encode())  # type: ignore[arg-type]


@pytest.fixture()
async def store(tmp_path: Path) -> AlertStore:
    s = AlertStore(tmp_path / "alerts.sqlite3")
    await s.open()
    yield s  # type: ignore[misc]
    await s.close()


async def test_subscriptions_roundtrip_keep_the_secret_and_unique_names(
    store: AlertStore, tmp_path: Path
) -> None:
    sub = subscription(channel="webhook", webhook_url="https://example.org/h", webhook_secret="s" * 20)
    await store.save_subscription(sub)
    [back] = await store.list_subscriptions()
    assert back == sub and back.webhook_secret is not None
    assert back.webhook_secret.get_secret_value() == "s" * 20
    with pytest.raises(NameTakenError):
        await store.save_subscription(subscription("sub_2", name="sub_1"))
    mode = stat.S_IMODE((tmp_path / "alerts.sqlite3").stat().st_mode)
    assert mode & 0o077 == 0, oct(mode)


async def test_record_is_idempotent_and_tracks_revisions(store: AlertStore) -> None:
    await store.record_alerts([new(alert("a1"))], now=10.0)
    await store.record_alerts([new(alert("a1"))], now=11.0)  # retried: no second delivery
    assert await store.last_revisions("ev1", ["sub_1", "sub_x"]) == {"sub_1": 1}
    await store.record_alerts([new(alert("a2", revision=3))], now=12.0)
    assert await store.last_revisions("ev1", ["sub_1"]) == {"sub_1": 3}
    claimed = await store.claim_due(now=20.0, limit=10, lease_until=1000.0)
    assert sorted(d.delivery_id for d in claimed) == ["a1", "a2"]
    assert await store.claim_due(now=20.0, limit=10, lease_until=1000.0) == []  # leased
    assert await store.next_due() == 1000.0


async def test_leases_are_released_on_restart(tmp_path: Path) -> None:
    s = AlertStore(tmp_path / "a.sqlite3")
    await s.open()
    await s.record_alerts([new(alert("a1"))], now=1.0)
    assert len(await s.claim_due(2.0, 10, 5000.0)) == 1
    await s.close()
    s = AlertStore(tmp_path / "a.sqlite3")
    await s.open()
    assert await s.release_leases(3.0) == 1
    [d] = await s.claim_due(3.0, 10, 5000.0)
    await s.reschedule(d.delivery_id, 1, 4.0, "boom")
    assert await s.delivery_state("a1") == ("pending", 1, "boom")
    await s.finish("a1", "done", 5.0)
    [rec] = await s.recent_alerts(10)
    assert rec.status == "delivered"
    await s.close()


async def test_digest_flush_moves_held_alerts_into_one_delivery(store: AlertStore) -> None:
    await store.record_alerts([new(alert("a1"), "held"), new(alert("a2", event_id="ev2"), "held")], now=5.0)
    assert await store.held_openings() == {"sub_1": 5.0}
    assert await store.claim_due(10.0, 10, 100.0) == []

    def build(alerts: list[Alert]) -> bytes:
        return (
            AlertDigest(
                digest_id="dg1", subscription_id="sub_1", subscription_name="x", created_at=NOW, alerts=alerts
            )
            .model_dump_json()
            .encode()
        )

    assert await store.flush_digest("sub_1", "kafka", "dg1", build, 10.0) == 2
    assert await store.flush_digest("sub_1", "kafka", "dg2", build, 10.0) == 0
    [d] = await store.claim_due(10.0, 10, 100.0)
    assert d.kind == "digest" and len(json.loads(d.body)["alerts"]) == 2
    await store.finish(d.delivery_id, "done", 11.0)
    assert {r.status for r in await store.recent_alerts(10)} == {"delivered"}


async def test_delete_cancels_pending_and_forgets_seen(store: AlertStore) -> None:
    await store.save_subscription(subscription())
    await store.record_alerts([new(alert("a1"))], now=1.0)
    assert await store.delete_subscription("sub_1", 2.0)
    assert not await store.delete_subscription("sub_1", 2.0)
    assert await store.last_revisions("ev1", ["sub_1"]) == {}
    assert await store.claim_due(3.0, 10, 10.0) == []
    assert (await store.recent_alerts(10))[0].status == "cancelled"


async def test_prune_keeps_pending(store: AlertStore) -> None:
    await store.record_alerts([new(alert("a1")), new(alert("a2", event_id="e2"), "suppressed")], now=1.0)
    assert await store.prune(before=100.0) >= 1
    assert [r.alert.alert_id for r in await store.recent_alerts(10)] == ["a1"]
