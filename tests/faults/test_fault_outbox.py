"""The outbox under pressure: full, and blocked by a poison event. Real brokers only.

* Full: items a poll offers are refused as a whole (``wiremon_outbox_rejected_total``,
  a WARNING, poll outcome ``rejected``), the feed's state does not advance and the
  feed is not backed off; once Kafka drains the outbox the feed is re-polled and its
  items are accepted and published exactly once.
* Poison: Tansu with a schema registry answers ``UnknownError`` for a value its schema
  rejects. That event moves to ``outbox_dead`` after ``outbox.max_attempts`` refusals,
  with ``wiremon_outbox_dead_total`` and an ERROR line naming it; every other event,
  before and after it (same partition, same batch), is published.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from monitor.config import Settings, load_settings
from monitor.embedded.broker import BrokerProcess
from monitor.store import FeedState, OutboxEvent, StateStore
from tests.faults.harness import (
    collect_events,
    metric,
    numbered_item,
    parse_metrics,
    running_service,
    wait_for,
)
from tests.support.feeds import FeedServer, rss

pytestmark = pytest.mark.slow


def settings(
    bootstrap: str, prefix: str, state: Path, feeds: list[dict[str, object]], **extra: object
) -> Settings:
    base: dict[str, object] = {
        "state_dir": str(state),
        "shutdown_grace": 5.0,
        "kafka": {
            "bootstrap_servers": bootstrap,
            "idempotence": False,
            "topic_prefix": prefix,
            "partitions": 1,
            "request_timeout_ms": 3000,
        },
        "fetch": {"parse_workers": 0, "jitter": 0, "default_interval": 0.2},
        "alerts": {"enabled": False},
        "feeds": feeds,
    }
    for key, value in extra.items():
        current = base.get(key)
        base[key] = {**current, **value} if isinstance(current, dict) and isinstance(value, dict) else value
    return load_settings(None, environ={}, base=base)


async def test_full_outbox_refuses_then_accepts_later(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broker = BrokerProcess(log_path=tmp_path / "tansu.log")  # not started yet: Kafka is down
    async with FeedServer() as server:
        url_a = server.set("/a.xml", rss([numbered_item("a", i) for i in range(8)], language="en"))
        url_b = server.set("/b.xml", rss([], language="en"))
        cfg = settings(
            broker.bootstrap_servers,
            "full.",
            tmp_path / "state",
            [{"id": "a", "url": url_a, "agency": "T"}, {"id": "b", "url": url_b, "agency": "T"}],
            outbox={"max_events": 10, "retry_initial": 0.2, "retry_max": 0.5},
        )
        async with running_service(cfg) as service:
            assert service.store is not None
            store = service.store.sync
            await wait_for(
                lambda: store.outbox_count == 8 and store.feed_state("b").last_success is not None,
                20,
                "feed a's 8 items in the outbox, feed b polled (empty)",
            )
            etag_b = store.feed_state("b").etag
            # feed b now offers 5 items: 8 + 5 > 10, refused as a whole
            server.set("/b.xml", rss([numbered_item("b", i) for i in range(5)], language="en"))
            m = service.metrics
            await wait_for(lambda: m.outbox_rejected._value.get() >= 10, 20, "two refused polls of feed b")
            assert store.outbox_count == 8
            assert store.lookup_seen([f"x{i}" for i in range(3)]) == {}
            assert store.feed_state("b").etag == etag_b, "a refused poll must not advance the feed's state"
            assert store.feed_state("b").failures == 0, "a full outbox is not the feed's fault: no backoff"
            polls = parse_metrics(m.render().decode())
            assert metric(polls, "wiremon_polls_total", feed="b", outcome="rejected") >= 2
            assert any(
                "new events refused, the feed's state is not advanced" in r.getMessage()
                for r in caplog.records
                if r.levelno == logging.WARNING
            )
            # Kafka comes back: the outbox drains, b is re-polled and accepted
            await broker.astart()
            await wait_for(
                lambda: store.outbox_count == 0 and store.feed_state("b").etag != etag_b,
                60,
                "feed b accepted once there is room",
            )
        delivery = await collect_events(broker.bootstrap_servers, "full.enriched", expect=13, within=30)
        broker.stop()
    guids = sorted(p["guid"] for p in delivery.payloads)
    assert guids == sorted([f"urn:a:{i}" for i in range(8)] + [f"urn:b:{i}" for i in range(5)])
    assert delivery.duplicates == 0


def test_empty_outbox_takes_a_poll_larger_than_its_bound(tmp_path: Path) -> None:
    """Otherwise a feed offering more new items than max_events would be refused forever."""
    store = StateStore(tmp_path / "s.db", max_outbox=10)
    events = [OutboxEvent(f"e{i}", 1, (), b"{}", "h", 1.0, None) for i in range(25)]
    store.accept("big", FeedState("etag", None, 0, 1.0), events)
    assert store.outbox_count == 25
    assert store.feed_state("big").etag == "etag"


POISON_SCHEMA = {
    "type": "object",
    "properties": {
        "value": {"type": "object", "properties": {"title": {"type": "string", "not": {"pattern": "POISON"}}}}
    },
}


async def test_poison_event_is_buried_and_the_rest_flows(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    prefix = "poison."
    registry = tmp_path / "registry"
    registry.mkdir()
    (registry / f"{prefix}enriched.json").write_text(json.dumps(POISON_SCHEMA))
    items = [numbered_item("p", i) for i in range(7)]
    items[3].title = "POISON pill that the schema registry refuses"
    with BrokerProcess(schema_dir=registry, log_path=tmp_path / "tansu.log") as broker:
        async with FeedServer() as server:
            url = server.set("/p.xml", rss(items[::-1], language="en"))
            cfg = settings(
                broker.bootstrap_servers,
                prefix,
                tmp_path / "state",
                [{"id": "p", "url": url, "agency": "T"}],
                outbox={"max_attempts": 3, "retry_initial": 0.05, "retry_max": 0.2},
            )
            async with running_service(cfg) as service:
                assert service.store is not None
                store = service.store.sync
                await wait_for(
                    lambda: store.outbox_count == 0 and len(store.outbox_dead()) == 1,
                    60,
                    "the poison buried, the outbox empty",
                )
                # one more item after the poison flows at once
                server.set("/p.xml", rss([numbered_item("p", 7), *items[::-1]], language="en"))
                await wait_for(
                    lambda: service.relay is not None and service.relay.delivered >= 7,
                    30,
                    "the item after the poison published",
                )
        delivery = await collect_events(broker.bootstrap_servers, f"{prefix}enriched", expect=7, within=30)
    dead = StateStore(tmp_path / "state" / "state.sqlite3").outbox_dead()
    assert len(dead) == 1
    row, reason = dead[0]
    assert json.loads(row.payload)["title"].startswith("POISON")
    assert row.attempts == 3
    assert "UnknownError" in reason
    assert service.metrics.outbox_dead._value.get() == 1
    errors = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.ERROR and "outbox_dead" in r.getMessage()
    ]
    assert len(errors) == 1 and row.event_id in errors[0] and "UnknownError" in errors[0]
    guids = sorted(p["guid"] for p in delivery.payloads)
    assert guids == sorted(f"urn:p:{i}" for i in (0, 1, 2, 4, 5, 6, 7)), "every other event is published"
    # in the order they were accepted (the feed lists newest first), the poison skipped
    assert [p["guid"] for p in delivery.payloads] == [f"urn:p:{i}" for i in (6, 5, 4, 2, 1, 0, 7)]
