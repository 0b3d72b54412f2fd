"""The demo replay server, tested over real loopback HTTP with an injected clock."""

from __future__ import annotations

import gzip
import html
import json
import re
from collections.abc import AsyncIterator
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

import aiohttp
import feedparser
import pytest
import pytest_asyncio
from multidict import CIMultiDict

from monitor.demo.replay import DemoFeed, ReplayServer, load_manifest

pytestmark = pytest.mark.asyncio

SEED_COPY = Path(__file__).parent / "data" / "seed-dispatch.txt"
SEED_GUID = "urn:afp:2017-07-07:seed"
SEED_TITLE = "G20 : Trump et Poutine s'accordent sur un cessez-le-feu dans le sud-ouest de la Syrie"
REVEAL_EVERY = 3.0
WALL_START = 1_500_000_000.0  # 2017-07-14, an arbitrary fixed anchor for Last-Modified
FEEDS = load_manifest()
NO_GZIP = {"Accept-Encoding": "identity"}
FULL = 1000.0  # seconds after which every feed is complete


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock()


@pytest_asyncio.fixture()
async def server(clock: FakeClock) -> AsyncIterator[ReplayServer]:
    replay = ReplayServer(reveal_every=REVEAL_EVERY, clock=clock, wall_clock=lambda: WALL_START)
    await replay.start("127.0.0.1", 0)
    try:
        yield replay
    finally:
        await replay.stop()


@pytest_asyncio.fixture()
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        yield session


async def fetch(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None
) -> tuple[int, CIMultiDict[str], bytes]:
    async with http.get(url, headers={**NO_GZIP, **(headers or {})}) as resp:
        return resp.status, resp.headers.copy(), await resp.read()


def items_of(feed: DemoFeed, body: bytes) -> list[dict[str, Any]]:
    """Items as dicts with at least ``id``; asserts the document is well-formed."""
    if feed.format == "json":
        doc = json.loads(body)
        assert doc["version"] == "https://jsonfeed.org/version/1.1"
        return list(doc["items"])
    parsed = feedparser.parse(body)
    assert not parsed.bozo, f"{feed.id}: {parsed.get('bozo_exception')}"
    return [dict(entry) for entry in parsed.entries]


def text_of(fragment: str) -> str:
    """HTML fragment to plain text with collapsed whitespace."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


@pytest.mark.parametrize("feed", FEEDS, ids=[f.id for f in FEEDS])
async def test_feed_parses_with_three_oldest_items_at_start(
    feed: DemoFeed, server: ReplayServer, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    status, headers, body = await fetch(http, server.feed_urls[feed.id])
    assert status == 200
    assert headers["Content-Type"] == f"{feed.content_type}; charset=utf-8"
    start = items_of(feed, body)
    assert len(start) == 3

    clock.advance(FULL)
    _, _, full_body = await fetch(http, server.feed_urls[feed.id])
    full = items_of(feed, full_body)
    assert 8 <= len(full) <= 15

    def when(item: dict[str, Any]) -> Any:
        if feed.format == "json":
            return item["date_published"]
        return tuple(item.get("published_parsed") or item["updated_parsed"])

    oldest = sorted(full, key=when)[:3]
    assert {item["id"] for item in start} == {item["id"] for item in oldest}


@pytest.mark.parametrize("feed", FEEDS, ids=[f.id for f in FEEDS])
async def test_items_are_revealed_as_the_clock_advances(
    feed: DemoFeed, server: ReplayServer, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    url = server.feed_urls[feed.id]
    counts = []
    for _ in range(4):
        counts.append(len(items_of(feed, (await fetch(http, url))[2])))
        clock.advance(REVEAL_EVERY - 0.5)
        counts.append(len(items_of(feed, (await fetch(http, url))[2])))
        clock.advance(0.5)
    assert counts == [3, 3, 4, 4, 5, 5, 6, 6]

    clock.advance(FULL)
    total = len(items_of(feed, (await fetch(http, url))[2]))
    clock.advance(FULL)
    assert len(items_of(feed, (await fetch(http, url))[2])) == total  # stays complete


async def test_index_lists_every_feed(
    server: ReplayServer, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    clock.advance(REVEAL_EVERY)
    status, headers, body = await fetch(http, server.base_url + "/")
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    listing = json.loads(body)["feeds"]
    assert [entry["id"] for entry in listing] == [feed.id for feed in FEEDS]
    for entry in listing:
        assert entry["url"] == server.feed_urls[entry["id"]]
        assert entry["items_visible"] == 4
        assert entry["url"].startswith("http://127.0.0.1:")


async def test_unknown_feed_is_404(server: ReplayServer, http: aiohttp.ClientSession) -> None:
    status, _, _ = await fetch(http, server.base_url + "/feeds/nope.xml")
    assert status == 404


async def test_conditional_get_answers_304_until_a_reveal(
    server: ReplayServer, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    feed = FEEDS[0]
    url = server.feed_urls[feed.id]
    status, headers, body = await fetch(http, url)
    assert status == 200
    etag, last_modified = headers["ETag"], headers["Last-Modified"]
    assert etag.startswith('"') and etag.endswith('"')
    assert parsedate_to_datetime(last_modified).timestamp() == WALL_START

    clock.advance(REVEAL_EVERY - 0.1)
    status, headers, body = await fetch(http, url, {"If-None-Match": etag})
    assert (status, body) == (304, b"")
    assert headers["ETag"] == etag
    status, _, _ = await fetch(http, url, {"If-Modified-Since": last_modified})
    assert status == 304
    status, _, _ = await fetch(http, url, {"If-None-Match": f'W/"other", {etag}'})
    assert status == 304

    clock.advance(0.1)
    status, headers, body = await fetch(
        http, url, {"If-None-Match": etag, "If-Modified-Since": last_modified}
    )
    assert status == 200
    assert len(items_of(feed, body)) == 4
    assert headers["ETag"] != etag
    assert parsedate_to_datetime(headers["Last-Modified"]) > parsedate_to_datetime(last_modified)
    status, _, _ = await fetch(http, url, {"If-Modified-Since": last_modified})
    assert status == 200
    status, _, _ = await fetch(http, url, {"If-None-Match": headers["ETag"]})
    assert status == 304

    # Once complete, the document no longer changes: a poller keeps getting 304.
    clock.advance(FULL)
    status, headers, _ = await fetch(http, url)
    final_tag, final_date = headers["ETag"], headers["Last-Modified"]
    clock.advance(FULL)
    assert (await fetch(http, url, {"If-None-Match": final_tag}))[0] == 304
    assert (await fetch(http, url, {"If-Modified-Since": final_date}))[0] == 304
    assert format_datetime(parsedate_to_datetime(final_date), usegmt=True) == final_date


@pytest.mark.parametrize("feed", [FEEDS[0], FEEDS[-1]], ids=[FEEDS[0].id, FEEDS[-1].id])
async def test_gzip_when_the_client_accepts_it(
    feed: DemoFeed, server: ReplayServer, http: aiohttp.ClientSession
) -> None:
    url = server.feed_urls[feed.id]
    _, plain_headers, plain = await fetch(http, url)
    assert "Content-Encoding" not in plain_headers
    status, headers, body = await fetch(http, url, {"Accept-Encoding": "gzip, deflate"})
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in headers["Vary"]
    assert headers["Content-Type"] == plain_headers["Content-Type"]
    assert gzip.decompress(body) == plain
    assert len(body) < len(plain)
    status, _, _ = await fetch(http, url, {"Accept-Encoding": "gzip", "If-None-Match": headers["ETag"]})
    assert status == 304
    _, refused, _ = await fetch(http, url, {"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused

    # aiohttp's own client decompresses transparently.
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        assert resp.headers["Content-Encoding"] == "gzip"
        assert await resp.read() == plain


async def test_afp_carries_the_seed_dispatch(
    server: ReplayServer, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    afp = next(feed for feed in FEEDS if feed.id == "afp-fr")
    clock.advance(FULL)
    _, _, body = await fetch(http, server.feed_urls[afp.id])
    seed_items = [item for item in items_of(afp, body) if item["id"] == SEED_GUID]
    assert len(seed_items) == 1
    item = seed_items[0]
    seed = SEED_COPY.read_text(encoding="utf-8")
    assert item["title"] == SEED_TITLE
    assert text_of(item["summary"]) == " ".join(seed.splitlines()[0].split())
    assert text_of(item["content"][0]["value"]) == " ".join(seed.split())


async def test_guids_are_unique_within_each_feed(
    server: ReplayServer, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    clock.advance(FULL)
    for feed in FEEDS:
        _, _, body = await fetch(http, server.feed_urls[feed.id])
        ids = [item.get("id") for item in items_of(feed, body)]
        assert all(ids), feed.id
        assert len(set(ids)) == len(ids), feed.id


async def test_json_feed_is_json_feed_1_1(
    server: ReplayServer, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    json_feeds = [feed for feed in FEEDS if feed.format == "json"]
    assert json_feeds
    for feed in json_feeds:
        for _ in range(2):
            _, headers, body = await fetch(http, server.feed_urls[feed.id])
            assert headers["Content-Type"] == "application/feed+json; charset=utf-8"
            doc = json.loads(body.decode("utf-8"))
            assert doc["version"] == "https://jsonfeed.org/version/1.1"
            assert doc["title"]
            for item in doc["items"]:
                assert item["id"] and item["date_published"]
                assert item.get("content_html") or item.get("content_text")
            clock.advance(FULL)


async def test_loop_restarts_after_a_complete_period(clock: FakeClock) -> None:
    feed = FEEDS[0]
    async with (
        ReplayServer([feed], reveal_every=1.0, loop=True, clock=clock) as replay,
        aiohttp.ClientSession() as http,
    ):
        total = None
        seen = []
        for _ in range(30):
            async with http.get(replay.feed_urls[feed.id]) as resp:
                seen.append(len(items_of(feed, await resp.read())))
            clock.advance(1.0)
        total = max(seen)
        assert seen[: total - 2] == list(range(3, total + 1))
        assert seen[total - 2] == 3  # one complete period, then back to the start
    with pytest.raises(RuntimeError):
        _ = replay.base_url
