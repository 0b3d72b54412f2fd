"""End to end against real servers: a local HTTP feed server and the real broker."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import jsonschema
import pytest

from monitor.config import Settings, load_settings
from monitor.embedded.broker import BrokerProcess
from monitor.service import Service
from tests.conftest import REPO, SHARED
from tests.support.feeds import FeedServer, Item, read_topic, rss

SEED = (SHARED / "seed-dispatch.txt").read_text(encoding="utf-8")
SEED_TITLE = "G20 : Trump et Poutine s'accordent sur un cessez-le-feu dans le sud-ouest de la Syrie"
TOPICS = ("syria_ceasefire", "sanctions", "g20_security")


def settings_for(broker: BrokerProcess, prefix: str, state: Path, url: str, **extra: object) -> Settings:
    return load_settings(
        None,
        environ={},
        base={
            "state_dir": str(state),
            "kafka": {
                "bootstrap_servers": broker.bootstrap_servers,
                "idempotence": False,
                "topic_prefix": prefix,
                "partitions": 1,
            },
            "fetch": {"parse_workers": 0, "jitter": 0},
            "http": {"port": 0},
            "alerts": {"enabled": False},
            "feeds": [{"id": "afp-fr", "url": url, "agency": "AFP", "interval": 0.2}],
            **extra,
        },
    )


def seed_item(content: str = SEED) -> Item:
    first = content.split("\n", 1)[0]
    return Item(
        guid="urn:afp:seed", title=SEED_TITLE, description=first, content=content.replace("\n", "<br/>\n")
    )


async def run_once(settings: Settings) -> int:
    service = Service(settings, serve_http=False)
    await service.start()
    try:
        return await service.run_once()
    finally:
        await service.shutdown()


async def test_seed_dispatch_reaches_enriched_and_every_topic(
    kafka_broker: BrokerProcess, topic_prefix: str, tmp_path: Path
) -> None:
    async with FeedServer() as server:
        url = server.set("/afp.xml", rss([seed_item()]))
        settings = settings_for(kafka_broker, topic_prefix, tmp_path, url)
        assert await run_once(settings) == 0

    schema = json.loads((REPO / "schemas" / "enriched_event.v1.json").read_text())
    enriched = await read_topic(kafka_broker.bootstrap_servers, f"{topic_prefix}enriched", expect=1)
    assert len(enriched) == 1
    payload = json.loads(enriched[0].value)
    jsonschema.validate(payload, schema)
    assert {t["topic"] for t in payload["topics"]} == set(TOPICS)
    assert payload["topics"][0]["topic"] == "syria_ceasefire"
    assert payload["agency"] == "AFP" and payload["language"] == "fr"
    assert payload["guid"] == "urn:afp:seed" and payload["link"].endswith("/a/urn:afp:seed")
    assert payload["status"] == "new" and payload["revision"] == 1
    assert enriched[0].key.decode() == payload["event_id"]
    headers = dict(enriched[0].headers)
    assert headers["schema_id"] == b"enriched_event.v1"
    assert headers["content-type"] == b"application/json"
    for topic in TOPICS:
        messages = await read_topic(kafka_broker.bootstrap_servers, f"{topic_prefix}topic.{topic}", expect=1)
        assert len(messages) == 1, topic
        assert json.loads(messages[0].value)["event_id"] == payload["event_id"]


async def test_304_restart_and_update_semantics(
    kafka_broker: BrokerProcess, topic_prefix: str, tmp_path: Path
) -> None:
    async with FeedServer() as server:
        other = Item(guid="urn:afp:2", title="Météo : un été chaud en Provence", description="Il fera chaud.")
        url = server.set("/afp.xml", rss([seed_item(), other]))
        settings = settings_for(kafka_broker, topic_prefix, tmp_path, url)
        # first run: two new items
        assert await run_once(settings) == 0
        # second run, same process state dir (a restart): the server answers 304
        assert await run_once(settings) == 0
        assert server.not_modified.get("/afp.xml") == 1
        # the server loses its ETag (document re-rendered identically): full body, nothing new
        server.documents["/afp.xml"] = rss([seed_item(), other]) + b"\n"
        assert await run_once(settings) == 0
        # one item's content changes: exactly one update
        changed = Item(
            guid="urn:afp:2", title="Météo : un été très chaud en Provence", description="Il fera chaud."
        )
        server.documents["/afp.xml"] = rss([seed_item(), changed])
        assert await run_once(settings) == 0
        assert await run_once(settings) == 0  # 304 again

    messages = await read_topic(kafka_broker.bootstrap_servers, f"{topic_prefix}enriched", expect=3, idle=2.0)
    events = [json.loads(m.value) for m in messages]
    assert [(e["guid"], e["status"], e["revision"]) for e in events] == [
        ("urn:afp:seed", "new", 1),
        ("urn:afp:2", "new", 1),
        ("urn:afp:2", "updated", 2),
    ]
    assert events[1]["event_id"] == events[2]["event_id"]
    assert "très chaud" in events[2]["title"]


async def test_kafka_down_at_start_keeps_items_in_outbox(topic_prefix: str, tmp_path: Path) -> None:
    """No broker at all: items are accepted into the outbox, nothing is lost, exit says so."""
    broker = BrokerProcess()  # not started: nothing listens on its port
    async with FeedServer() as server:
        url = server.set("/afp.xml", rss([seed_item()]))
        settings = settings_for(broker, topic_prefix, tmp_path, url, shutdown_grace=1.0)
        left = await run_once(settings)
    assert left == 1
    with BrokerProcess() as live:
        settings = settings_for(
            live, topic_prefix, tmp_path, "http://127.0.0.1:9/unused.xml", shutdown_grace=10.0
        )
        service = Service(settings, serve_http=False)
        await service.start()
        try:
            assert service.store is not None
            for _ in range(150):
                if service.store.sync.outbox_count == 0:
                    break
                await asyncio.sleep(0.1)
            assert service.store.sync.outbox_count == 0
        finally:
            await service.shutdown()
        messages = await read_topic(live.bootstrap_servers, f"{topic_prefix}enriched", expect=1)
        assert [json.loads(m.value)["guid"] for m in messages] == ["urn:afp:seed"]


@pytest.mark.parametrize("bad", ["kafka: [", "feeds: 3", "kafka:\n  partitions: 0\n"])
def test_bad_config_names_the_problem(tmp_path: Path, bad: str) -> None:
    from monitor.errors import ConfigError

    path = tmp_path / "c.yml"
    path.write_text(bad)
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert str(path) in str(info.value)
