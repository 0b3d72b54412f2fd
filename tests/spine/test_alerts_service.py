"""Alerts wired into the running service: config subscriptions, Kafka and webhook
channels, breaking stories, and the API on the service port — all real servers."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from aiohttp import web

from monitor.config import load_settings
from monitor.embedded.broker import BrokerProcess
from monitor.service import Service
from tests.support.feeds import FeedServer, Item, read_topic, rss

SECRET = "a-webhook-secret-of-some-length"
TOKEN = "test-api-token-123"


class Receiver:
    def __init__(self) -> None:
        self.bodies: list[dict[str, object]] = []
        self.valid: list[bool] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        parts = dict(p.split("=", 1) for p in request.headers["X-Wiremon-Signature"].split(","))
        expected = hmac.new(SECRET.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
        self.valid.append(hmac.compare_digest(expected, parts["v1"]))
        self.bodies.append(json.loads(body))
        return web.Response(status=204)


async def test_alerts_flow_from_feed_to_kafka_webhook_and_api(
    kafka_broker: BrokerProcess, topic_prefix: str, tmp_path: Path
) -> None:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    hook_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with FeedServer() as server:
            truce = {
                "afp": ("AFP", "fr", "Syrie : le cessez-le-feu dans le sud-ouest entre en vigueur dimanche"),
                "reuters": ("Reuters", "en", "Syria ceasefire takes effect in the southwest, monitors say"),
                "dpa": ("dpa", "de", "Waffenruhe im Südwesten Syriens in Kraft getreten"),
            }
            feeds = []
            now = datetime.now(UTC)  # breaking stories count items published within the window
            for key, (agency, lang, title) in truce.items():
                url = server.set(
                    f"/{key}.xml", rss([Item(guid=f"{key}-1", title=title, pub_date=now)], language=lang)
                )
                feeds.append({"id": key, "url": url, "agency": agency})
            settings = load_settings(
                None,
                environ={},
                base={
                    "state_dir": str(tmp_path),
                    "kafka": {
                        "bootstrap_servers": kafka_broker.bootstrap_servers,
                        "idempotence": False,
                        "topic_prefix": topic_prefix,
                        "partitions": 1,
                    },
                    "fetch": {"parse_workers": 0},
                    "http": {"port": 0, "api_tokens": [TOKEN]},
                    "alerts": {
                        "allow_private_webhooks": True,
                        "breaking_agencies": 3,
                        "subscriptions": [
                            {
                                "name": "syria-desk",
                                "topics": ["syria_ceasefire"],
                                "channel": "kafka",
                                "breaking": True,
                            },
                            {
                                "name": "syria-hook",
                                "topics": ["syria_ceasefire"],
                                "languages": ["de"],
                                "channel": "webhook",
                                "webhook_url": f"http://127.0.0.1:{hook_port}/hook",
                                "webhook_secret": SECRET,
                            },
                            {"name": "sanctions-only", "topics": ["sanctions"], "channel": "kafka"},
                        ],
                    },
                    "feeds": feeds,
                },
            )
            service = Service(settings)
            await service.start()
            try:
                assert await service.run_once() == 0
                for _ in range(100):
                    if receiver.bodies:
                        break
                    await asyncio.sleep(0.1)
                assert service.http is not None
                base = service.http.url
                async with aiohttp.ClientSession() as http:
                    async with http.get(f"{base}/api/v1/subscriptions") as resp:
                        assert resp.status == 401
                    headers = {"Authorization": f"Bearer {TOKEN}"}
                    async with http.get(f"{base}/api/v1/subscriptions", headers=headers) as resp:
                        assert resp.status == 200
                        names = sorted(s["name"] for s in await resp.json())
                    async with http.get(f"{base}/api/openapi.json") as resp:
                        assert resp.status == 200 and "/api/v1/subscriptions" in (await resp.json())["paths"]
                    async with http.post(
                        f"{base}/api/v1/subscriptions",
                        headers=headers,
                        json={"name": "x", "topics": ["sanctions"], "channel": "carrier-pigeon"},
                    ) as resp:
                        assert resp.status == 422
                        assert "channel" in await resp.text()
                assert names == ["sanctions-only", "syria-desk", "syria-hook"]
            finally:
                await service.shutdown()
    finally:
        await runner.cleanup()

    assert receiver.valid == [True]
    assert receiver.bodies[0]["language"] == "de"
    alerts = [
        json.loads(m.value)
        for m in await read_topic(kafka_broker.bootstrap_servers, f"{topic_prefix}alerts", expect=5, idle=2.0)
    ]
    desk = [a for a in alerts if a["subscription_name"] == "syria-desk"]
    kinds = sorted(a["kind"] for a in desk)
    assert kinds == ["breaking", "match", "match", "match"], kinds
    assert not [a for a in alerts if a["subscription_name"] == "sanctions-only"]
