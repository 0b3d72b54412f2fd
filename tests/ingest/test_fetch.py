"""The fetcher against real servers on loopback: every failure reason, and its bounds."""

from __future__ import annotations

import asyncio
import json
import resource
import time
import tracemalloc
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from support.hostile import HostileServer, connect_timeout_address, gzip_bomb

from monitor.config import FetchConfig
from monitor.errors import FetchError
from monitor.ingest.fetch import Fetcher, FetchRequest, parse_retry_after

MB = 1024 * 1024


def config(**overrides: object) -> FetchConfig:
    base: dict[str, object] = {
        "connect_timeout": 1.0,
        "read_timeout": 5.0,
        "total_timeout": 1.5,
        "max_body_bytes": 20 * MB,
    }
    base.update(overrides)
    return FetchConfig.model_validate(base)


@pytest.fixture()
async def server() -> AsyncIterator[HostileServer]:
    async with HostileServer(items=3) as srv:
        yield srv


@pytest.fixture()
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(config(), version="9.9") as f:
        yield f


def req(server: HostileServer, path: str, **kw: object) -> FetchRequest:
    return FetchRequest(feed_id="feed-t", url=server.url(path), **kw)  # type: ignore[arg-type]


async def reason_of(fetcher: Fetcher, request: FetchRequest) -> FetchError:
    with pytest.raises(FetchError) as info:
        await fetcher.fetch(request)
    assert info.value.about == request.feed_id
    return info.value


async def test_ok_feed_and_headers_sent(server: HostileServer, fetcher: Fetcher) -> None:
    result = await fetcher.fetch(req(server, "/ok.xml"))
    assert result.status == 200 and not result.not_modified
    assert result.content.count(b"<item>") == 3
    assert result.etag == '"v1"' and result.last_modified
    assert result.content_type == "application/rss+xml"
    sent = server.last_headers["/ok.xml"]
    assert sent["User-Agent"].startswith("wire-monitor/9.9 ")
    assert "application/rss+xml" in sent["Accept"]
    assert sent["Accept-Encoding"] == "gzip, deflate"


@pytest.mark.parametrize("enc", ["gzip", "deflate", "rawdeflate"])
async def test_compressed_bodies_are_decoded(server: HostileServer, fetcher: Fetcher, enc: str) -> None:
    result = await fetcher.fetch(req(server, f"/ok.xml?enc={enc}&n=50"))
    assert result.content.startswith(b"<?xml") and result.content.count(b"<item>") == 50


async def test_unknown_content_encoding_is_refused(server: HostileServer, fetcher: Fetcher) -> None:
    exc = await reason_of(fetcher, req(server, "/ok.xml?enc=zstd"))
    assert exc.reason == "bad_content_type"


async def test_conditional_get_gives_not_modified(server: HostileServer, fetcher: Fetcher) -> None:
    first = await fetcher.fetch(req(server, "/ok.xml"))
    again = await fetcher.fetch(req(server, "/ok.xml", etag=first.etag))
    assert again.not_modified and again.status == 304 and again.content == b""
    assert again.etag == first.etag
    assert server.last_headers["/ok.xml"]["If-None-Match"] == first.etag
    by_date = await fetcher.fetch(req(server, "/ok.xml", last_modified=first.last_modified))
    assert by_date.not_modified and by_date.last_modified == first.last_modified


async def test_feed_headers_are_sent_but_cannot_override_encoding(
    server: HostileServer, fetcher: Fetcher
) -> None:
    await fetcher.fetch(
        req(server, "/ok.xml", headers={"Authorization": "Bearer s3cret", "Accept-Encoding": "br"})
    )
    sent = server.last_headers["/ok.xml"]
    assert sent["Authorization"] == "Bearer s3cret"
    assert sent["Accept-Encoding"] == "gzip, deflate"


async def test_no_cookies_kept_between_feeds(server: HostileServer, fetcher: Fetcher) -> None:
    await fetcher.fetch(req(server, "/set-cookie"))
    result = await fetcher.fetch(req(server, "/headers"))
    assert "Cookie" not in json.loads(result.content)


async def test_http_errors(server: HostileServer, fetcher: Fetcher) -> None:
    for path, status in (("/500", 500), ("/404", 404)):
        exc = await reason_of(fetcher, req(server, path))
        assert (exc.reason, exc.status) == ("http_error", status)
        assert f"HTTP {status}" in str(exc) and "feed-t" in str(exc)


async def test_429_retry_after_seconds(server: HostileServer, fetcher: Fetcher) -> None:
    exc = await reason_of(fetcher, req(server, "/429"))
    assert (exc.reason, exc.status, exc.retry_after) == ("rate_limited", 429, 7.0)


async def test_503_retry_after_http_date(server: HostileServer, fetcher: Fetcher) -> None:
    exc = await reason_of(fetcher, req(server, "/503-date"))
    assert exc.reason == "rate_limited" and exc.status == 503
    assert exc.retry_after is not None and 110 <= exc.retry_after <= 121


def test_parse_retry_after_forms() -> None:
    now = 1_500_000_000.0
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("99999999") == 86_400.0  # capped at one day
    assert parse_retry_after("Fri, 14 Jul 2017 02:40:30 GMT", now=now) == pytest.approx(30.0)
    assert parse_retry_after("Fri, 14 Jul 2017 02:39:00 GMT", now=now) == 0.0  # in the past
    for junk in (None, "", "soon", "-5", "1.5e9", "Fri, 99 Foo 2017", "9" * 100):
        assert parse_retry_after(junk, now=now) is None


async def test_redirects_followed_and_final_url_reported(server: HostileServer, fetcher: Fetcher) -> None:
    result = await fetcher.fetch(req(server, "/redirect?to=/ok.xml&code=301"))
    assert result.url == server.url("/ok.xml") and result.status == 200


async def test_redirect_loop(server: HostileServer, fetcher: Fetcher) -> None:
    exc = await reason_of(fetcher, req(server, "/redirect-loop"))
    assert exc.reason == "too_many_redirects"
    assert server.hits["/redirect-loop"] == 6  # the first request + max_redirects (5)


async def test_redirect_to_ftp_refused(server: HostileServer, fetcher: Fetcher) -> None:
    exc = await reason_of(fetcher, req(server, "/redirect-ftp"))
    assert exc.reason == "invalid_url"


async def test_credentials_not_forwarded_to_another_origin(server: HostileServer, fetcher: Fetcher) -> None:
    other = server.url("/headers").replace("127.0.0.1", "localhost")
    result = await fetcher.fetch(
        req(server, f"/redirect?to={other}", headers={"Authorization": "Bearer s3cret", "X-Api": "k"})
    )
    seen = json.loads(result.content)
    assert "Authorization" not in seen and seen["X-Api"] == "k"


async def test_invalid_url(fetcher: Fetcher) -> None:
    for url in ("ftp://example.invalid/feed", "file:///etc/passwd", "http:///nohost", "not a url"):
        exc = await reason_of(fetcher, FetchRequest(feed_id="bad", url=url))
        assert exc.reason == "invalid_url"


async def test_private_addresses_refused_when_disallowed(server: HostileServer) -> None:
    async with Fetcher(config(allow_private_addresses=False), version="1") as f:
        exc = await reason_of(f, req(server, "/ok.xml"))
        assert exc.reason == "invalid_url"
        exc = await reason_of(
            f, FetchRequest(feed_id="dns", url=server.url("/ok.xml").replace("127.0.0.1", "localhost"))
        )
        assert exc.reason == "connect_error"


async def test_empty_body(server: HostileServer, fetcher: Fetcher) -> None:
    assert (await reason_of(fetcher, req(server, "/empty"))).reason == "empty"


async def test_wrong_content_type(server: HostileServer, fetcher: Fetcher) -> None:
    assert (await reason_of(fetcher, req(server, "/wrong-type"))).reason == "bad_content_type"
    assert (await reason_of(fetcher, req(server, "/octet"))).reason == "bad_content_type"
    result = await fetcher.fetch(req(server, "/octet?kind=xml"))  # octet-stream but really XML
    assert result.content.startswith(b"<?xml")


async def test_bad_encoding_bytes_are_passed_through(server: HostileServer, fetcher: Fetcher) -> None:
    # Decoding is the parser's job; the fetcher returns the bytes as sent.
    result = await fetcher.fetch(req(server, "/bad-encoding"))
    assert b"Caf\xe9" in result.content


async def test_changing_feed_changes(server: HostileServer, fetcher: Fetcher) -> None:
    one = await fetcher.fetch(req(server, "/changing"))
    two = await fetcher.fetch(req(server, "/changing"))
    assert two.content.count(b"<item>") == one.content.count(b"<item>") + 1


async def test_connection_refused(fetcher: Fetcher) -> None:
    with connect_timeout_address() as (host, port):
        pass  # closed again: the port now refuses connections
    exc = await reason_of(fetcher, FetchRequest(feed_id="gone", url=f"http://{host}:{port}/feed"))
    assert exc.reason == "connect_error"


async def test_connect_timeout(fetcher: Fetcher) -> None:
    with connect_timeout_address() as (host, port):
        start = time.monotonic()
        exc = await reason_of(fetcher, FetchRequest(feed_id="blackhole", url=f"http://{host}:{port}/"))
        assert exc.reason == "timeout"
        assert time.monotonic() - start < 1.4  # connect_timeout (1 s), not total (1.5 s)


@pytest.mark.parametrize("path", ["/slow-drip", "/hang"])
async def test_slow_servers_are_cut_by_total_timeout(
    server: HostileServer, fetcher: Fetcher, path: str
) -> None:
    start = time.monotonic()
    exc = await reason_of(fetcher, req(server, path))
    elapsed = time.monotonic() - start
    assert exc.reason == "timeout" and "total_timeout" in str(exc)
    assert 1.4 < elapsed < 2.5


async def test_read_timeout(server: HostileServer) -> None:
    async with Fetcher(config(read_timeout=0.3, total_timeout=5), version="1") as f:
        start = time.monotonic()
        exc = await reason_of(f, req(server, "/hang"))
        assert exc.reason == "timeout" and time.monotonic() - start < 1.5


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


@pytest.mark.parametrize(
    ("path", "reason"),
    [("/huge", "too_large"), ("/huge?cl=1", "too_large"), ("/gzip-bomb", "decompression_bomb")],
)
async def test_big_bodies_abandoned_with_bounded_memory(
    server: HostileServer, path: str, reason: str
) -> None:
    gzip_bomb()  # build the cached bomb before measuring
    async with Fetcher(config(total_timeout=20), version="1") as f:
        rss_before = _rss_mb()
        tracemalloc.start()
        try:
            exc = await reason_of(f, req(server, path))
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        growth = _rss_mb() - rss_before
    assert exc.reason == reason
    assert "20971520 bytes (max_body_bytes)" in str(exc) and "abandoned" in str(exc)
    assert peak < 64 * MB, f"traced peak {peak / MB:.1f} MB"
    assert growth < 64, f"peak RSS grew by {growth:.1f} MB"
    print(f"{path}: traced peak {peak / MB:.1f} MB, peak RSS growth {growth:.1f} MB")


async def test_body_just_under_cap_is_kept(server: HostileServer) -> None:
    async with Fetcher(config(max_body_bytes=4096), version="1") as f:
        assert len((await f.fetch(req(server, "/ok.xml?n=5"))).content) < 4096
        assert (await reason_of(f, req(server, "/ok.xml?n=50&enc=gzip"))).reason == "too_large"


async def test_per_host_limit_honoured(server: HostileServer) -> None:
    async with Fetcher(config(per_host_concurrency=2, total_timeout=10), version="1") as f:
        requests = [req(server, f"/ok.xml?delay=0.2&i={i}") for i in range(8)]
        results = await asyncio.gather(*(f.fetch(r) for r in requests))
    assert all(r.status == 200 for r in results)
    assert server.inflight_max["/ok.xml"] == 2


async def test_global_limit_honoured(server: HostileServer) -> None:
    # Two host names for the same server: the server-side counter sees both.
    other = server.url("/ok.xml?delay=0.2").replace("127.0.0.1", "localhost")
    async with Fetcher(
        config(per_host_concurrency=4, global_concurrency=3, total_timeout=10), version="1"
    ) as f:
        reqs = [req(server, "/ok.xml?delay=0.2") for _ in range(4)]
        reqs += [FetchRequest(feed_id="o", url=other) for _ in range(4)]
        await asyncio.gather(*(f.fetch(r) for r in reqs))
    assert server.inflight_max["/ok.xml"] == 3


async def test_healthy_feeds_flow_while_hostile_ones_are_polled(server: HostileServer) -> None:
    async with (
        HostileServer() as healthy,
        Fetcher(config(per_host_concurrency=2, global_concurrency=8, total_timeout=2), version="1") as f,
    ):
        hostile = [
            asyncio.create_task(f.fetch(req(server, p)))
            for p in ("/hang", "/hang", "/slow-drip", "/slow-drip", "/gzip-bomb", "/huge")
        ]
        await asyncio.sleep(0.1)
        start = time.monotonic()
        for _ in range(20):
            result = await f.fetch(FetchRequest(feed_id="ok", url=healthy.url("/ok.xml")))
            assert result.status == 200
        assert time.monotonic() - start < 1.0  # never waited behind the hostile host
        outcomes = await asyncio.gather(*hostile, return_exceptions=True)
    assert all(isinstance(o, FetchError) for o in outcomes)


async def test_error_messages_never_contain_header_values(server: HostileServer, fetcher: Fetcher) -> None:
    secret = "Bearer TOPSECRET-12345"
    for path in ("/500", "/429", "/hang", "/redirect-loop", "/redirect-ftp", "/wrong-type", "/empty"):
        exc = await reason_of(
            fetcher, req(server, path, headers={"Authorization": secret, "X-Key": "k3y-v4lue"})
        )
        assert "TOPSECRET" not in str(exc) and "k3y-v4lue" not in str(exc)
        assert "TOPSECRET" not in repr(exc.args)


async def test_fetch_before_start_is_a_programming_error() -> None:
    f = Fetcher(config(), version="1")
    with pytest.raises(RuntimeError):
        await f.fetch(FetchRequest(feed_id="x", url="http://127.0.0.1:9/"))


async def test_plain_aiohttp_server_text_html_feed_allowed() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=b"<rss version='2.0'><channel/></rss>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/feed", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with Fetcher(config(), version="1") as f:
            result = await f.fetch(FetchRequest(feed_id="html", url=f"http://127.0.0.1:{port}/feed"))
        assert result.content.startswith(b"<rss") and result.content_type.startswith("text/html")  # type: ignore[union-attr]
    finally:
        await runner.cleanup()
