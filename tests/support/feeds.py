"""A real HTTP feed server on loopback whose documents tests can change, and a Kafka reader."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web
from aiokafka import AIOKafkaConsumer


@dataclass
class Item:
    guid: str
    title: str
    description: str = ""
    content: str = ""
    link: str | None = None
    pub_date: datetime = field(default_factory=lambda: datetime(2017, 7, 7, 14, 0, tzinfo=UTC))


def rss(items: Sequence[Item], *, title: str = "Test wire", language: str | None = "fr") -> bytes:
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>',
        f"<title>{escape(title)}</title><link>http://127.0.0.1/</link><description>t</description>",
    ]
    if language:
        parts.append(f"<language>{language}</language>")
    for it in items:
        parts.append("<item>")
        parts.append(f"<title>{escape(it.title)}</title>")
        parts.append(f'<guid isPermaLink="false">{escape(it.guid)}</guid>')
        parts.append(f"<link>{escape(it.link or 'http://127.0.0.1/a/' + it.guid)}</link>")
        parts.append(f"<pubDate>{format_datetime(it.pub_date)}</pubDate>")
        if it.description:
            parts.append(f"<description>{escape(it.description)}</description>")
        if it.content:
            parts.append(f"<content:encoded><![CDATA[{it.content}]]></content:encoded>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts).encode("utf-8")


class FeedServer:
    """Serves ``documents[path]`` with ETag/Last-Modified and answers 304 when unchanged."""

    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}
        self.hits: dict[str, int] = {}
        self.not_modified: dict[str, int] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0

    def set(self, path: str, body: bytes) -> str:
        self.documents[path] = body
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.hits[path] = self.hits.get(path, 0) + 1
        body = self.documents.get(path)
        if body is None:
            return web.Response(status=404)
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            self.not_modified[path] = self.not_modified.get(path, 0) + 1
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(
            body=body,
            content_type="application/rss+xml",
            charset="utf-8",
            headers={"ETag": etag, "Last-Modified": format_datetime(datetime.now(UTC), usegmt=True)},
        )

    async def start(self) -> FeedServer:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FeedServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    expect: int | None = None,
    until: Callable[[list[Any]], bool] | None = None,
    timeout: float = 15.0,
    idle: float = 1.5,
) -> list[Any]:
    """Every message on ``topic`` from the beginning: until ``expect`` messages arrived or
    ``until(messages)`` holds (then ``idle`` more seconds to catch extras), or ``timeout``."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    out: list[Any] = []
    deadline = time.monotonic() + timeout
    extra_until: float | None = None
    try:
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for messages in batch.values():
                out.extend(messages)
            complete = (expect is not None and len(out) >= expect) or (until is not None and until(out))
            if complete and extra_until is None:
                extra_until = time.monotonic() + idle
            if extra_until is not None and time.monotonic() >= extra_until:
                break
            await asyncio.sleep(0)
    finally:
        await consumer.stop()
    return out
