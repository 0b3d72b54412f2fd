"""SIGHUP reloads topic definitions in a running service, parser workers included;
a bad definition keeps the previous set and says why."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from monitor.embedded.broker import BrokerProcess
from tests.conftest import REPO
from tests.support.feeds import FeedServer, Item, read_topic, rss

VOLCANO = """\
id: volcano
name: Volcanic eruptions
concepts:
  eruption:
    terms: {en: [erupt*, eruption*], fr: [eruption*]}
  volcano:
    terms: {en: [volcano*], fr: [volcan*]}
rules:
  - {id: eruption_of_volcano, all: [eruption, volcano], window: 12, weight: 1.0}
"""


async def wait_for_log(path: Path, text: str, timeout: float = 30) -> None:
    for _ in range(int(timeout * 10)):
        if path.exists() and text in path.read_text(errors="replace"):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{text!r} never logged; log:\n{path.read_text(errors='replace')[-3000:]}")


async def test_sighup_reload(kafka_broker: BrokerProcess, topic_prefix: str, tmp_path: Path) -> None:
    topics = tmp_path / "topics"
    topics.mkdir()
    async with FeedServer() as server:
        items = [Item(guid="v1", title="Volcano erupts near the capital, ash cloud grounds flights")]
        url = server.set("/wire.xml", rss(items, language="en"))
        config = tmp_path / "config.yml"
        config.write_text(f"""
state_dir: "{tmp_path / "state"}"
kafka:
  bootstrap_servers: "{kafka_broker.bootstrap_servers}"
  idempotence: false
  topic_prefix: "{topic_prefix}"
http: {{port: 0}}
fetch: {{parse_workers: 1}}
topics: {{dirs: ["{topics}"]}}
feeds: [{{id: wire, url: "{url}", agency: Reuters, interval: 0.3}}]
""")
        log = tmp_path / "monitor.log"
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "monitor",
                "run",
                "--config",
                str(config),
                env=env,
                cwd=tmp_path,
                stdout=out,
                stderr=out,
            )
        try:
            await wait_for_log(log, "feed wire: 1 new")
            (topics / "volcano.yml").write_text(VOLCANO)
            proc.send_signal(signal.SIGHUP)
            await wait_for_log(log, "topics reloaded")
            items.append(Item(guid="v2", title="Second volcano eruption in a week forces evacuations"))
            server.documents["/wire.xml"] = rss(items, language="en")
            await wait_for_log(log, "feed wire: 1 new, 0 updated, 1 unchanged")
            (topics / "volcano.yml").write_text(VOLCANO.replace("all: [eruption, volcano]", "all: [erupton]"))
            proc.send_signal(signal.SIGHUP)
            await wait_for_log(log, "topic reload failed, keeping the previous topics")
            items.append(Item(guid="v3", title="Volcano eruption ends, flights resume"))
            server.documents["/wire.xml"] = rss(items, language="en")
            await wait_for_log(log, "feed wire: 1 new, 0 updated, 2 unchanged")
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 30) == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert "volcano.yml" in log.read_text() and "erupton" in log.read_text()
    events = {
        json.loads(m.value)["guid"]: json.loads(m.value)
        for m in await read_topic(kafka_broker.bootstrap_servers, f"{topic_prefix}enriched", expect=3)
    }
    assert [t["topic"] for t in events["v1"]["topics"]] == []
    assert [t["topic"] for t in events["v2"]["topics"]] == ["volcano"]
    assert [t["topic"] for t in events["v3"]["topics"]] == ["volcano"]
