"""The embedded default: everything ``wiremon run`` needs, on loopback, with no config.

* the bundled demo feeds, replayed by an in-process HTTP server that reveals items
  over time (``monitor/demo``);
* Tansu, a Kafka-compatible broker, as a child process on a free port, validating
  every payload against the checked-in JSON Schemas;
* a fresh state directory (the broker keeps nothing between runs, so neither do we),
  unless ``WIREMON_STATE_DIR`` or ``--state-dir`` names one.
"""

from __future__ import annotations

import json
import socket
import tempfile
from pathlib import Path
from typing import Any

from ..demo.replay import ReplayServer, load_manifest
from ..schemas import schema_for_topic
from .broker import BrokerProcess

DEFAULT_HTTP_PORT = 9108


def _preferred_port(port: int) -> int:
    """``port`` when it is free on loopback, else 0 (any free port; the banner says which)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return 0
    return port


def write_registry(directory: Path, topics: list[str], prefix: str) -> None:
    """One Tansu schema file per topic: ``{"properties": {"value": <payload schema>}}``."""
    directory.mkdir(parents=True, exist_ok=True)
    for topic in topics:
        payload = schema_for_topic(topic, prefix)
        if payload is None:
            continue
        registry = {"type": "object", "properties": {"value": payload}}
        (directory / f"{topic}.json").write_text(json.dumps(registry), encoding="utf-8")


class EmbeddedStack:
    """Demo replay server + broker; ``start()`` returns the settings overlay to run with."""

    def __init__(self, workdir: Path | None = None, reveal_every: float = 3.0) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="wiremon-demo-") if workdir is None else None
        self.workdir: Path = Path(self._tmp.name) if self._tmp is not None else Path(str(workdir))
        self.replay = ReplayServer(reveal_every=reveal_every, shift_to_now=True)
        self.broker: BrokerProcess | None = None

    async def start(self, topic_ids: list[str], prefix: str = "wire.") -> dict[str, Any]:
        await self.replay.start()
        topics = [f"{prefix}enriched", *(f"{prefix}topic.{t}" for t in topic_ids), f"{prefix}alerts"]
        registry = self.workdir / "schema-registry"
        write_registry(registry, topics, prefix)
        self.broker = BrokerProcess(schema_dir=registry, log_path=self.workdir / "broker.log")
        await self.broker.astart()
        feeds = [
            {"id": f.id, "url": self.replay.feed_urls[f.id], "agency": f.agency, "interval": f.interval}
            for f in load_manifest()
        ]
        return {
            "state_dir": str(self.workdir / "state"),
            "kafka": {
                "bootstrap_servers": self.broker.bootstrap_servers,
                "idempotence": False,
                "partitions": 1,
            },
            "http": {"port": _preferred_port(DEFAULT_HTTP_PORT)},
            "feeds": feeds,
        }

    async def stop(self) -> None:
        if self.broker is not None:
            await self.broker.astop()
        await self.replay.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
