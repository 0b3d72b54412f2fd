"""Kafka goes away for 30 s while feeds publish 1,000 items: none is lost.

Topology (all loopback, all real processes):

    feed server ──► monitor (python -m monitor run) ──► TcpProxy ──► Tansu broker
                                                   (cut for 30 s)

The broker advertises the *proxy's* address (``BrokerProcess(advertised_port=...)``):
Kafka clients connect to the advertised address after the first metadata request, so
without it the producer would bypass the proxy and the cut would cut nothing. The test
asserts that it did cut: Kafka is reported down and the outbox fills during the cut.

The config sets ``outbox.max_attempts: 1``: a connection failure counted as a refusal
would bury events at once, so ``wiremon_outbox_dead_total == 0`` proves the relay never
dead-letters because the broker is unreachable.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from monitor.embedded.broker import BrokerProcess, free_port
from tests.faults.harness import MonitorProcess, RevealingFeeds, base_config, collect_events, metric, wait_for
from tests.support.feeds import FeedServer
from tests.support.tcpproxy import TcpProxy

pytestmark = pytest.mark.slow

ITEMS = 1000
CUT_SECONDS = 30.0


async def test_broker_cut_30s_loses_nothing(tmp_path: Path, record_property: pytest.RecordProperty) -> None:
    broker_port = free_port()
    async with TcpProxy("127.0.0.1", broker_port) as proxy, FeedServer() as server:
        broker = BrokerProcess(port=broker_port, advertised_port=proxy.port, log_path=tmp_path / "tansu.log")
        await broker.astart()
        feeds = RevealingFeeds(server, 10)
        prefix = "cut."
        mon = MonitorProcess(
            tmp_path / "mon",
            base_config(
                tmp_path / "state",
                proxy.address,
                prefix,
                feeds.feeds(0.5),
                outbox={"max_attempts": 1, "retry_initial": 0.2, "retry_max": 1.0},
            ),
        )
        try:
            mon.start()
            await mon.wait_ready()
            # warm-up: the path through the proxy works before we cut it
            feeds.reveal(10)
            await wait_for(_outbox_empty_after(mon, 10), 30, "10 warm-up items published")

            proxy.cut("refuse")  # like a broker whose port is closed ...
            cut_at = time.monotonic()
            await feeds.reveal_over(ITEMS, 20.0)
            proxy.cut("hold")  # ... then like a partition: connections hang
            samples = await mon.scrape()
            pending_during_cut = metric(samples, "wiremon_outbox_pending")
            kafka_up_during_cut = metric(samples, "wiremon_kafka_up")
            accepted = metric(samples, "wiremon_items_total", status="new")
            await wait_for(
                lambda: time.monotonic() - cut_at >= CUT_SECONDS, CUT_SECONDS + 5, "the cut to last 30 s"
            )
            proxy.restore()
            restored_at = time.monotonic()

            recovery = await wait_for(
                _outbox_empty_after(mon, ITEMS + 10), 90, "the outbox to drain after restore"
            )
            delivery = await collect_events(
                proxy.address, f"{prefix}enriched", expect_guids=feeds.guids(), within=60
            )
            final = await mon.scrape()
        finally:
            mon.stop()
            await broker.astop()

    # the cut was real: Kafka reported down, items piled up in the outbox, yet were accepted
    assert kafka_up_during_cut == 0
    assert pending_during_cut >= 500, pending_during_cut
    assert accepted >= 500, "polling must go on while Kafka is down"
    # nothing lost, nothing buried, nothing accepted twice
    got = {p["guid"] for p in delivery.payloads}
    missing = feeds.guids() - got
    assert not missing, f"{len(missing)} items lost, e.g. {sorted(missing)[:5]}"
    assert metric(final, "wiremon_outbox_dead_total") == 0
    assert metric(final, "wiremon_items_total", status="new") == ITEMS + 10
    # a duplicate is a re-send of the same event: same key, same bytes
    _assert_duplicates_identical(delivery.messages)
    record_property("items_lost", len(missing))
    record_property("duplicates", delivery.duplicates)
    record_property("recovery_seconds", round(recovery, 1))
    print(
        f"\nbroker cut: {ITEMS} items during a {CUT_SECONDS:.0f}s cut, lost {len(missing)}, "
        f"duplicates {delivery.duplicates}, outbox drained {recovery:.1f}s after restore "
        f"(restore→drained measured from {restored_at - cut_at:.1f}s into the cut)"
    )
    log = mon.log()
    assert "Kafka is reachable again" in log
    # one clear line when Kafka goes away and one when it is back, not a flood: the Kafka
    # client's own reconnect errors (~10 a second unthrottled) are limited per message
    assert len(re.findall(r"publishing to Kafka at .* failed", log)) == 1
    client_lines = [line for line in log.splitlines() if " aiokafka" in line]
    assert len(client_lines) < 60, f"{len(client_lines)} aiokafka log lines during a {CUT_SECONDS:.0f}s cut"


def _outbox_empty_after(mon: MonitorProcess, accepted: int):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        samples = await mon.try_scrape()
        if samples is None:
            return False
        return (
            metric(samples, "wiremon_items_total", status="new") >= accepted
            and metric(samples, "wiremon_outbox_pending") == 0
            and metric(samples, "wiremon_publish_total", outcome="ok") >= accepted
        )

    return check


def _assert_duplicates_identical(messages: list) -> None:  # type: ignore[type-arg]
    first: dict[bytes, bytes] = {}
    for m in messages:
        if m.key in first:
            assert m.value == first[m.key], "a duplicate must be the same event, byte for byte"
            assert json.loads(m.value)["revision"] == json.loads(first[m.key])["revision"]
        else:
            first[m.key] = m.value
