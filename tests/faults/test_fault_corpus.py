"""The feedparser project's own hostile test feeds, served over HTTP, through the whole service.

Files under ``tests/data/feedparser/`` (BSD-2-Clause, LICENSE alongside, original names):

* ``illformed/`` and ``encoding/``: broken on purpose. No poll may crash; where
  feedparser itself extracts entries from the raw bytes, the same number of items
  must reach Kafka; every document feedparser flags as bozo must be counted in
  ``wiremon_parse_errors_total`` (or fail as a ``parse_error`` poll).
* ``sanitize/``: script, style, event handlers, ``javascript:`` URLs. What lands on
  Kafka carries no markup at all in its text fields and only http(s) links.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import feedparser
import pytest
from aiohttp import web

from monitor.config import load_settings
from monitor.embedded.broker import BrokerProcess
from monitor.service import Service
from tests.conftest import REPO
from tests.faults.harness import collect_events, metric, parse_metrics

pytestmark = pytest.mark.slow

DATA = REPO / "tests" / "data" / "feedparser"
TEXT_FIELDS = ("title", "summary", "body")
# a tag opener: what html_to_text guarantees never to emit
TAG = re.compile(r"<[A-Za-z/!?]")


def feed_id(path: Path) -> str:
    return re.sub(r"[^a-z0-9_.-]", "-", f"{path.parent.name}-{path.stem}".lower())[:64]


class CorpusServer:
    """Serves files byte for byte as ``application/xml`` (no charset: the bytes speak)."""

    def __init__(self, files: list[Path]) -> None:
        self.files = {f"/{feed_id(f)}.xml": f for f in files}
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def __aenter__(self) -> CorpusServer:
        async def handle(request: web.Request) -> web.StreamResponse:
            path = self.files.get(request.path)
            if path is None:
                return web.Response(status=404)
            return web.Response(body=path.read_bytes(), headers={"Content-Type": "application/xml"})

        app = web.Application()
        app.router.add_get("/{name}", handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def feeds(self) -> list[dict[str, Any]]:
        # one agency per feed: many cases have neither guid nor link, and several sanitise to
        # the same text; under one agency they would rightly be the same item (same event id)
        return [
            {
                "id": (fid := p.strip("/").removesuffix(".xml")),
                "url": f"http://127.0.0.1:{self.port}{p}",
                "agency": fid,
            }
            for p in self.files
        ]


async def run_corpus(broker: BrokerProcess, prefix: str, tmp: Path, files: list[Path]) -> tuple[dict, list]:  # type: ignore[type-arg]
    async with CorpusServer(files) as server:
        settings = load_settings(
            None,
            environ={},
            base={
                "state_dir": str(tmp / "state"),
                "kafka": {
                    "bootstrap_servers": broker.bootstrap_servers,
                    "idempotence": False,
                    "topic_prefix": prefix,
                    "partitions": 1,
                },
                "fetch": {"parse_workers": 1, "jitter": 0},
                "alerts": {"enabled": False},
                "feeds": server.feeds(),
            },
        )
        service = Service(settings, serve_http=False)
        await service.start()
        try:
            left = await service.run_once()
        finally:
            await service.shutdown()
    assert left == 0
    samples = parse_metrics(service.metrics.render().decode())
    published = int(metric(samples, "wiremon_publish_total", outcome="ok"))
    delivery = await collect_events(
        broker.bootstrap_servers, f"{prefix}enriched", expect=published, within=60, idle=1.0
    )
    return samples, delivery.payloads


async def test_illformed_feeds_do_not_crash_and_give_what_they_can(
    kafka_broker: BrokerProcess, topic_prefix: str, tmp_path: Path
) -> None:
    files = sorted((DATA / "illformed").glob("*.xml")) + sorted((DATA / "encoding").glob("*.xml"))
    assert len(files) >= 30
    samples, payloads = await run_corpus(kafka_broker, topic_prefix, tmp_path, files)
    per_feed: dict[str, int] = {}
    for p in payloads:
        per_feed[p["feed_id"]] = per_feed.get(p["feed_id"], 0) + 1
    bozo_seen = 0
    for path in files:
        fid = feed_id(path)
        expected = feedparser.parse(path.read_bytes())
        polls = metric(samples, "wiremon_polls_total", feed=fid)
        assert polls == 1, f"{path.name}: polled {polls} times"
        assert (
            metric(samples, "wiremon_polls_total", feed=fid, outcome="ok")
            + metric(samples, "wiremon_polls_total", feed=fid, outcome="parse_error")
            == 1
        ), f"{path.name}: poll crashed"
        assert per_feed.get(fid, 0) == len(expected.entries), path.name
        if expected.bozo:
            bozo_seen += 1
            counted = metric(samples, "wiremon_parse_errors_total", feed=fid)
            assert counted >= 1, f"{path.name}: ill-formed but not counted in wiremon_parse_errors_total"
    assert bozo_seen >= 10
    assert sum(per_feed.values()) >= 9  # the cases above that feedparser can read entries from


async def test_sanitize_cases_publish_plain_text_and_http_links(
    kafka_broker: BrokerProcess, topic_prefix: str, tmp_path: Path
) -> None:
    files = sorted((DATA / "sanitize").glob("*.xml"))
    assert len(files) >= 300
    _, payloads = await run_corpus(kafka_broker, topic_prefix, tmp_path, files)
    # 235 of the 321 cases give an item; the others have an entry with nothing in it
    assert len(payloads) >= 200, "most sanitize cases carry an entry with content"
    for p in payloads:
        for name in TEXT_FIELDS:
            text = p.get(name) or ""
            assert not TAG.search(text), f"{p['feed_id']}: markup in {name}: {text[:200]!r}"
        link = p.get("link")
        assert link is None or link.startswith(("http://", "https://")), f"{p['feed_id']}: link {link!r}"
    # the payloads did carry the hostile cases' text: the check above ran on real content
    assert sum(1 for p in payloads if p.get("body") or p.get("summary")) >= 100
    blob = " ".join(str(p.get(n) or "") for p in payloads for n in TEXT_FIELDS).lower()
    for needle in ("<script", "<style", "onclick=", "onerror=", "onload=", "<iframe", "<object", "<embed"):
        assert needle not in blob, needle
