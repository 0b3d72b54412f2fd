"""Crash safety and graceful shutdown of the real ``python -m monitor run`` process.

* SIGKILL at arbitrary moments while items stream in, restart on the same state
  directory: every item reaches Kafka; a duplicate is only a re-send of an event that
  was in flight, byte for byte the same (same key, event id, revision).
* SIGTERM: polling stops, the outbox is flushed, the process exits 0 within
  ``shutdown_grace``; with Kafka unreachable it still exits 0 in time and the outbox
  keeps the items for the next start.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path

import pytest

from monitor.embedded.broker import BrokerProcess, free_port
from tests.faults.harness import MonitorProcess, RevealingFeeds, base_config, collect_events, wait_for
from tests.support.feeds import FeedServer
from tests.support.tcpproxy import TcpProxy

pytestmark = pytest.mark.slow


async def test_sigkill_mid_stream_loses_nothing(
    kafka_broker: BrokerProcess, topic_prefix: str, tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    rng = random.Random(4)
    async with FeedServer() as server:
        feeds = RevealingFeeds(server, 6)
        mon = MonitorProcess(
            tmp_path / "mon",
            base_config(
                tmp_path / "state",
                kafka_broker.bootstrap_servers,
                topic_prefix,
                feeds.feeds(0.2),
                # small batches: more commits to the outbox per second, more moments to die in
                outbox={"batch_size": 20},
            ),
        )
        kills = 0
        try:
            mon.start()
            await mon.wait_ready()
            reveal = asyncio.create_task(feeds.reveal_over(600, 12.0, steps=60))
            while not reveal.done():
                await asyncio.sleep(rng.uniform(1.0, 2.5))
                mon.kill()  # no handler runs: whatever was in flight is cut
                kills += 1
                mon.start()
                await mon.wait_ready()
            await reveal
            await wait_for(_drained(mon, feeds), 60, "every revealed item accepted and published")
        finally:
            mon.stop()
    delivery = await collect_events(
        kafka_broker.bootstrap_servers, f"{topic_prefix}enriched", expect_guids=feeds.guids(), within=60
    )
    got = {p["guid"] for p in delivery.payloads}
    missing = feeds.guids() - got
    assert kills >= 3
    assert not missing, f"{len(missing)} items lost after {kills} SIGKILLs, e.g. {sorted(missing)[:5]}"
    first: dict[bytes, bytes] = {}
    for m in delivery.messages:
        assert first.setdefault(m.key, m.value) == m.value, "a duplicate must be a re-send of the same event"
        assert json.loads(m.value)["revision"] == 1
    record_property("sigkills", kills)
    record_property("duplicates", delivery.duplicates)
    total = len(feeds.guids())
    print(f"\nSIGKILL x{kills}: {total} items, lost {len(missing)}, duplicates {delivery.duplicates}")


def _drained(mon: MonitorProcess, feeds: RevealingFeeds):  # type: ignore[no-untyped-def]
    def check() -> bool:
        # read the state file, not /metrics: counters restart with each process
        seen = mon.sql("SELECT COUNT(*) FROM seen")[0][0]
        pending = mon.sql("SELECT COUNT(*) FROM outbox")[0][0]
        return bool(seen == len(feeds.guids()) and pending == 0)

    return check


async def test_sigterm_flushes_and_exits_0_within_grace(
    kafka_broker: BrokerProcess, topic_prefix: str, tmp_path: Path
) -> None:
    async with FeedServer() as server:
        feeds = RevealingFeeds(server, 4)
        mon = MonitorProcess(
            tmp_path / "mon",
            base_config(
                tmp_path / "state",
                kafka_broker.bootstrap_servers,
                topic_prefix,
                feeds.feeds(0.2),
                shutdown_grace=5.0,
            ),
        )
        try:
            mon.start()
            await mon.wait_ready()
            feeds.reveal(300)
            await wait_for(lambda: mon.sql("SELECT COUNT(*) FROM seen")[0][0] > 0, 20, "first items accepted")
            started = time.monotonic()
            mon.terminate()
            code = await mon.wait_exit(10)
            took = time.monotonic() - started
        finally:
            mon.stop()
    assert code == 0, mon.log()[-2000:]
    assert took <= 5.0 + 1.0, f"exit took {took:.1f}s, grace is 5s"
    accepted = mon.sql("SELECT COUNT(*) FROM seen")[0][0]
    assert mon.sql("SELECT COUNT(*) FROM outbox")[0][0] == 0, "SIGTERM must flush the outbox"
    delivery = await collect_events(
        kafka_broker.bootstrap_servers, f"{topic_prefix}enriched", expect=accepted, within=30
    )
    assert len(delivery.by_key()) == accepted
    assert "stopping: finishing in-flight polls and flushing the outbox" in mon.log()


async def test_sigterm_with_kafka_unreachable_exits_in_time_and_keeps_items(tmp_path: Path) -> None:
    broker_port = free_port()
    async with TcpProxy("127.0.0.1", broker_port) as proxy, FeedServer() as server:
        broker = BrokerProcess(port=broker_port, advertised_port=proxy.port, log_path=tmp_path / "tansu.log")
        await broker.astart()
        feeds = RevealingFeeds(server, 2)
        mon = MonitorProcess(
            tmp_path / "mon",
            base_config(
                tmp_path / "state",
                proxy.address,
                "term.",
                feeds.feeds(0.2),
                shutdown_grace=4.0,
                kafka={"request_timeout_ms": 30_000},  # longer than the grace: shutdown must not wait for it
            ),
        )
        try:
            mon.start()
            await mon.wait_ready()
            proxy.cut("hold")  # a partition: sends hang rather than fail
            feeds.reveal(50)
            await wait_for(
                lambda: mon.sql("SELECT COUNT(*) FROM outbox")[0][0] == 50, 20, "50 items in the outbox"
            )
            started = time.monotonic()
            mon.terminate()
            code = await mon.wait_exit(20)
            took = time.monotonic() - started
            left = mon.sql("SELECT COUNT(*) FROM outbox")[0][0]
            # the next start publishes them
            proxy.restore()
            mon.start()
            await mon.wait_ready()
            await wait_for(
                lambda: mon.sql("SELECT COUNT(*) FROM outbox")[0][0] == 0, 30, "the outbox to drain"
            )
            delivery = await collect_events(
                proxy.address, "term.enriched", expect_guids=feeds.guids(), within=30
            )
        finally:
            mon.stop()
            await broker.astop()
    assert code == 0
    assert took <= 4.0 + 1.5, f"exit took {took:.1f}s with Kafka unreachable, grace is 4s"
    assert left == 50
    assert {p["guid"] for p in delivery.payloads} == feeds.guids()
    assert "events stay in the outbox; they are published at the next start" in mon.log()
