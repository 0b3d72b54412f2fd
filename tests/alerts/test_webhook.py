"""Webhook delivery against a real aiohttp receiver on loopback, plus signing and the address guard."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from monitor.alerts.models import SubscriptionIn
from monitor.alerts.webhook import (
    SIGNATURE_HEADER,
    WebhookError,
    WebhookSender,
    backoff_delay,
    check_webhook_url,
    is_forbidden_address,
    sign,
    verify,
)

from .conftest import ServiceFactory
from .helpers import MemoryPublisher, event, subscription, wait_for

SECRET = "a-webhook-secret-of-some-length"


@dataclass
class Receiver:
    """A webhook receiver that checks the signature and fails the first ``fail_first`` requests."""

    url: str = ""
    fail_first: int = 0
    fail_status: int = 503
    requests: int = 0
    bad_signatures: int = 0
    accepted: list[dict[str, object]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = await request.read()
        if not verify(SECRET.encode(), body, request.headers.get(SIGNATURE_HEADER, ""), time.time()):
            self.bad_signatures += 1
            return web.Response(status=401)
        if self.requests <= self.fail_first:
            return web.Response(status=self.fail_status)
        self.accepted.append(json.loads(body))
        self.headers.append(dict(request.headers))
        return web.Response(status=204)


@pytest.fixture()
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    rec.url = f"http://127.0.0.1:{port}/hook"
    yield rec
    await runner.cleanup()


def webhook_sub(url: str, name: str = "hook") -> SubscriptionIn:
    return SubscriptionIn.model_validate(
        {
            "name": name,
            "channel": "webhook",
            "webhook_url": url,
            "webhook_secret": SECRET,
            "topics": ["sanctions"],
        }
    )


def test_signature_roundtrip_and_tamper() -> None:
    header = sign(b"k", b'{"a":1}', 1_500_000_000)
    assert header.startswith("t=1500000000,v1=")
    assert verify(b"k", b'{"a":1}', header, 1_500_000_010)
    assert not verify(b"k", b'{"a":2}', header, 1_500_000_010)
    assert not verify(b"other", b'{"a":1}', header, 1_500_000_010)
    assert not verify(b"k", b'{"a":1}', header, 1_500_001_000)  # replay outside the tolerance
    assert not verify(b"k", b"", "garbage", 0)


def test_backoff_grows_caps_and_jitters() -> None:
    assert backoff_delay(1, 1.0, 60.0, lambda: 0.0) == 0.5
    assert backoff_delay(1, 1.0, 60.0, lambda: 0.999) < 1.0
    assert backoff_delay(4, 1.0, 60.0, lambda: 0.0) == 4.0
    assert backoff_delay(50, 1.0, 60.0, lambda: 0.0) == 30.0
    assert backoff_delay(10_000, 1.0, 60.0, lambda: 1.0) == 60.0


@pytest.mark.parametrize(
    ("address", "forbidden"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("192.168.0.1", True),
        ("169.254.169.254", True),
        ("100.64.0.1", True),
        ("0.0.0.0", True),
        ("::1", True),
        ("fe80::1%eth0", True),
        ("::ffff:127.0.0.1", True),
        ("fc00::1", True),
        ("224.0.0.1", True),
        ("93.184.216.34", False),
        ("2606:4700::1111", False),
    ],
)
def test_forbidden_addresses(address: str, forbidden: bool) -> None:
    assert is_forbidden_address(address) is forbidden


async def test_create_time_check() -> None:
    for url in ("http://127.0.0.1/h", "http://[::1]:8080/h", "https://10.0.0.1/", "http://localhost/x"):
        with pytest.raises(WebhookError) as info:
            await check_webhook_url(url, allow_private=False)
        assert not info.value.retryable
    await check_webhook_url("https://93.184.216.34/h", allow_private=False)  # a literal: no DNS query
    await check_webhook_url("http://127.0.0.1/h", allow_private=True)


class RebindingResolver(AbstractResolver):
    """Answers 127.0.0.1 for every name: what a DNS-rebinding attacker's server does after the check."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": 0,
            }
        ]

    async def close(self) -> None:
        return None


async def test_delivery_time_check_uses_the_connection_resolution(receiver: Receiver) -> None:
    port = receiver.url.split(":")[2].split("/")[0]
    sender = WebhookSender(timeout=5, allow_private=False, resolver=RebindingResolver())
    await sender.start()
    try:
        with pytest.raises(WebhookError) as info:
            await sender.post(
                f"http://rebind.test:{port}/hook", b"{}", secret=b"k", now=time.time(), headers={}, about="t"
            )
        assert not info.value.retryable and "private" in str(info.value)
        with pytest.raises(WebhookError):
            await sender.post(receiver.url, b"{}", secret=b"k", now=time.time(), headers={}, about="t")
    finally:
        await sender.close()
    assert receiver.requests == 0
    # Same resolver, private addresses allowed: the request goes through.
    sender = WebhookSender(timeout=5, allow_private=True, resolver=RebindingResolver())
    await sender.start()
    try:
        await sender.post(
            f"http://rebind.test:{port}/hook",
            b"{}",
            secret=SECRET.encode(),
            now=time.time(),
            headers={},
            about="t",
        )
    finally:
        await sender.close()
    assert receiver.requests == 1


async def test_retries_then_delivers_signed(make_service: ServiceFactory, receiver: Receiver) -> None:
    receiver.fail_first = 2
    svc = await make_service(MemoryPublisher(), webhook_max_attempts=5)
    sub = await svc.create_subscription(webhook_sub(receiver.url))
    published = time.time()
    await svc.handle(event("ev1"), published_at=published)
    await wait_for(lambda: len(receiver.accepted) == 1)
    assert receiver.requests == 3 and receiver.bad_signatures == 0
    alert = receiver.accepted[0]
    assert alert["event_id"] == "ev1" and alert["subscription_id"] == sub.id
    headers = receiver.headers[0]
    assert headers["X-Wiremon-Delivery-Attempt"] == "3" and headers["X-Wiremon-Schema"] == "alert.v1"
    assert headers["X-Wiremon-Delivery-Id"] == alert["alert_id"]
    m = svc._metrics
    await wait_for(lambda: m.alerts_delivered.labels(channel="webhook")._value.get() == 1)
    assert m.alerts_retried.labels(channel="webhook")._value.get() == 2
    assert m.alert_latency.labels(channel="webhook")._sum.get() > 0
    created = datetime.fromisoformat(str(alert["created_at"]))
    assert created.tzinfo is not None and created <= datetime.now(UTC)


async def test_permanent_refusal_is_not_retried(make_service: ServiceFactory, receiver: Receiver) -> None:
    receiver.fail_first = 100
    receiver.fail_status = 410
    pub = MemoryPublisher()
    svc = await make_service(pub, webhook_max_attempts=5)
    await svc.create_subscription(webhook_sub(receiver.url))
    await svc.handle(event("ev1"), published_at=time.time())
    await wait_for(lambda: len(pub.values("wire.alerts.dead")) == 1)
    assert receiver.requests == 1
    headers = dict(pub.records[0][3])
    assert headers["x-wiremon-error"].startswith(b"subscription") and b"410" in headers["x-wiremon-error"]


async def test_private_address_refused_at_delivery(make_service: ServiceFactory, receiver: Receiver) -> None:
    """A subscription whose URL now points at loopback (rebinding, or edited in the DB) is refused."""
    pub = MemoryPublisher()
    svc = await make_service(pub, allow_private_webhooks=False)
    sub = subscription("sub_rebound", channel="webhook", webhook_url=receiver.url, webhook_secret=SECRET)
    await svc.store.save_subscription(sub)  # bypasses the create-time check on purpose
    svc._subs[sub.id] = sub
    svc._rebuild()
    await svc.handle(event("ev1"), published_at=time.time())
    await wait_for(lambda: len(pub.values("wire.alerts.dead")) == 1)
    assert receiver.requests == 0
    assert svc._metrics.alerts_dead.labels(channel="webhook")._value.get() == 1


async def test_stop_during_slow_delivery_resumes_later(
    make_service: ServiceFactory, receiver: Receiver
) -> None:
    receiver.fail_first = 1
    svc = await make_service(MemoryPublisher(), retry_initial=60, retry_max=60)
    await svc.create_subscription(webhook_sub(receiver.url))
    await svc.handle(event("ev1"), published_at=time.time())
    await wait_for(lambda: receiver.requests == 1)
    await svc.stop()  # the retry is 30-60 s away: stop must not wait for it
    await make_service(MemoryPublisher(), retry_initial=60, retry_max=60)
    await wait_for(lambda: len(receiver.accepted) == 1)


async def test_receiver_sees_valid_signature_header_format(receiver: Receiver) -> None:
    sender = WebhookSender(timeout=5, allow_private=True)
    await sender.start()
    try:
        status = await sender.post(
            receiver.url, b'{"x":1}', secret=SECRET.encode(), now=time.time(), headers={}, about="t"
        )
    finally:
        await sender.close()
    assert status == 204
    assert receiver.bad_signatures == 0


async def test_timeout_is_retryable() -> None:
    async def slow(_request: web.Request) -> web.Response:
        import asyncio

        await asyncio.sleep(0.8)
        return web.Response()

    app = web.Application()
    app.router.add_post("/", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    sender = WebhookSender(timeout=0.2, allow_private=True)
    await sender.start()
    try:
        with pytest.raises(WebhookError) as info:
            await sender.post(f"http://127.0.0.1:{port}/", b"{}", secret=b"k", now=0, headers={}, about="t")
        assert info.value.retryable and "0.2" in str(info.value)
    finally:
        await sender.close()
        await runner.cleanup()
