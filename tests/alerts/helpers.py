"""Builders shared by the alert tests: events, subscriptions, a Kafka publisher, an ASGI caller."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from monitor.alerts.models import Subscription
from monitor.errors import PublishError
from monitor.models import EnrichedEvent, Evidence, TopicMatch

NOW = datetime(2017, 7, 7, 14, 0, tzinfo=UTC)


def topic(name: str, score: float = 0.8) -> TopicMatch:
    return TopicMatch(
        topic=name,
        score=score,
        evidence=[Evidence(rule=f"{name}_rule", text="x", field="title", start=0, end=1)],
    )


def event(
    event_id: str = "ev1",
    *,
    topics: list[TopicMatch] | None = None,
    title: str = "Trump et Poutine se rencontrent à Hambourg",
    body: str = "",
    agency: str = "AFP",
    language: str | None = "fr",
    urgency: str = "routine",
    revision: int = 1,
    published: datetime | None = NOW,
) -> EnrichedEvent:
    return EnrichedEvent(
        event_id=event_id,
        agency=agency,
        feed_id="afp-fr",
        guid=event_id,
        link=f"https://example.org/{event_id}",
        title=title,
        body=body,
        published=published,
        language=language,
        urgency=urgency,  # type: ignore[arg-type]
        content_hash="h" * 64,
        status="new" if revision == 1 else "updated",
        revision=revision,
        topics=[topic("sanctions")] if topics is None else topics,
        fetched_at=NOW,
        accepted_at=NOW,
    )


def subscription(sub_id: str = "sub_1", **fields: Any) -> Subscription:
    data: dict[str, Any] = {"name": sub_id, "channel": "kafka", "created_at": NOW, "updated_at": NOW}
    data.update(fields)
    return Subscription.model_validate({"id": sub_id, **data})


class KafkaPublisher:
    """The ``AlertPublisher`` the tests use: aiokafka against the real broker (no idempotence: Tansu)."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all")
        self.fail = False
        self.sent: list[tuple[str, bytes]] = []

    async def start(self, topics: list[str]) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(t, num_partitions=1, replication_factor=1) for t in topics])
        except TopicAlreadyExistsError:
            pass
        finally:
            await admin.close()
        await self.producer.start()

    async def stop(self) -> None:
        await self.producer.stop()

    async def send(self, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        if self.fail:
            raise PublishError("injected failure", about=topic)
        try:
            await self.producer.send_and_wait(topic, value, key=key, headers=headers)
        except KafkaError as exc:
            raise PublishError(str(exc), about=topic) from exc
        self.sent.append((topic, key))


class MemoryPublisher:
    """An in-process ``AlertPublisher`` for tests that are not about Kafka."""

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]] = []
        self.fail = False

    async def send(self, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        if self.fail:
            raise PublishError("injected failure", about=topic)
        self.records.append((topic, key, value, headers))

    def values(self, topic: str) -> list[dict[str, Any]]:
        return [json.loads(v) for t, _k, v, _h in self.records if t == topic]


async def asgi_call(
    app: Any,
    method: str,
    path: str,
    *,
    json_body: Any = None,
    token: str | None = "t0k3n",
    raw: bytes | None = None,
) -> tuple[int, Any]:
    """Call an ASGI app in-process (no httpx here) and return (status, decoded JSON body or None)."""
    body = raw if raw is not None else (b"" if json_body is None else json.dumps(json_body).encode())
    path, _, query = path.partition("?")
    headers = [(b"host", b"testserver"), (b"content-type", b"application/json")]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": headers,
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    sent = False
    out: dict[str, Any] = {"status": 0, "body": b""}

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
        elif message["type"] == "http.response.body":
            out["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return out["status"], (json.loads(out["body"]) if out["body"] else None)


async def wait_for(cond: Callable[[], bool], within: float = 5.0) -> None:
    """Poll ``cond`` until true; fail the test after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)
