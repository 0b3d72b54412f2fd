"""The HTTP fetcher: one conditional GET of one feed, bounded in every dimension.

Feed servers are treated as hostile. For every call of :meth:`Fetcher.fetch` this
module guarantees:

- **Time**: the whole poll (connect, every redirect hop, headers and body) ends within
  ``total_timeout`` seconds, even against a server dripping one byte per second;
  ``connect_timeout`` bounds each connect and ``read_timeout`` each socket read.
  Time spent waiting for a concurrency slot is *not* counted (it is our queue, not
  the server's slowness).
- **Memory**: the body is streamed and decoded here (aiohttp's own decompression is
  off), with a hard cap of ``max_body_bytes`` on the *decoded* size; no more than
  the cap plus one read chunk is ever held. A gzip/deflate body that inflates past
  the cap at a ratio above 100 is reported as a ``decompression_bomb``.
- **Redirects**: followed by hand, at most ``max_redirects``, only to http(s). The
  credentials-bearing headers (Authorization, Cookie, Proxy-Authorization) are not
  forwarded to another origin.
- **Concurrency**: at most ``per_host_concurrency`` polls per host and
  ``global_concurrency`` in total. The host slot is taken *before* the global one,
  so requests queued behind a slow host never hold global slots and never starve
  other hosts.
- **Isolation**: one shared session, no cookies kept between feeds
  (``DummyCookieJar``), no proxy settings taken from the environment.
- **Errors**: every failure is a :class:`~monitor.errors.FetchError` whose
  ``reason`` is one of the labels listed there, and whose message says what
  happened and what happens next. Messages never contain request header values
  (feeds may carry credentials in headers); exception text from lower layers is
  scrubbed of them before it is quoted.

Reasons produced: ``timeout``, ``connect_error``, ``http_error`` (with ``status``;
also a malformed HTTP response, status ``None``), ``rate_limited`` (429/503, with
``retry_after``), ``too_large``, ``decompression_bomb``, ``too_many_redirects``,
``bad_content_type`` (also an unsupported Content-Encoding), ``invalid_url`` (bad
URL, redirect to a non-http(s) scheme, or a private address when
``allow_private_addresses`` is off), ``empty``.

This module is the poll itself: the session, the concurrency slots, the request and
the judgement of the response. Two policies it applies live beside it: reading and
decoding the body under its cap (:mod:`._decode`) and where a poll may go, private
addresses and redirects (:mod:`._address`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Final
from urllib.parse import urlsplit

import aiohttp
from multidict import CIMultiDict

from ..config import FetchConfig
from ..errors import FetchError
from ._address import (
    REDIRECTS,
    PublicOnlyResolver,
    forget_credentials,
    redirect_target,
    refuse_private_literal,
)
from ._decode import ACCEPT_ENCODING, CHUNK, read_body
from .safety import sniff_kind

__all__ = ["FetchRequest", "FetchResult", "Fetcher", "parse_retry_after"]

ACCEPT: Final = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, text/html;q=0.2, */*;q=0.1"
)
RETRY_AFTER_MAX: Final = 86_400.0
# Headers a feed's own configuration may not override: we decode the body ourselves,
# and framing headers are aiohttp's business.
_RESERVED: Final = frozenset(
    {"accept-encoding", "host", "content-length", "transfer-encoding", "connection", "te", "upgrade"}
)
# Media types that cannot be a feed. text/html and text/plain pass: real feeds are
# served with them. application/octet-stream is judged by its first bytes.
_NOT_FEED_PREFIXES: Final = ("image/", "audio/", "video/", "font/", "model/", "multipart/")
_NOT_FEED_TYPES: Final = frozenset(
    {
        "application/pdf",
        "application/zip",
        "application/gzip",
        "application/x-gzip",
        "application/x-tar",
        "application/x-7z-compressed",
        "application/x-rar-compressed",
        "application/vnd.rar",
        "application/x-bzip2",
        "application/x-msdownload",
        "application/wasm",
        "application/javascript",
        "text/javascript",
        "text/css",
        "application/msword",
        "application/vnd.ms-excel",
    }
)


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """One poll of one feed; ``etag``/``last_modified`` come from the previous poll."""

    feed_id: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What a successful poll returned. ``content`` is decoded (no Content-Encoding left)."""

    feed_id: str
    url: str  # final URL after redirects
    status: int
    not_modified: bool
    content: bytes
    content_type: str | None
    etag: str | None
    last_modified: str | None
    elapsed: float


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP-date).

    Returns ``None`` when absent or unparseable; clamps to ``[0, 86400]`` so a hostile
    server cannot silence a feed for years.
    """
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > 64:
        return None
    seconds: float
    if value.isdigit():
        seconds = float(int(value))
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive result means "-0000"
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return min(max(seconds, 0.0), RETRY_AFTER_MAX)


class Fetcher:
    """Polls feeds over one shared aiohttp session. Use ``async with`` or start()/close()."""

    def __init__(self, config: FetchConfig, *, version: str) -> None:
        self._config = config
        self._user_agent = config.user_agent.format(version=version)
        self._session: aiohttp.ClientSession | None = None
        self._global = asyncio.Semaphore(config.global_concurrency)
        # host -> (semaphore, number of polls using or waiting for it); entries are
        # removed when unused so a months-long run does not accumulate dead hosts.
        self._hosts: dict[str, tuple[asyncio.Semaphore, int]] = {}

    async def start(self) -> None:
        if self._session is not None:
            return
        cfg = self._config
        connector = aiohttp.TCPConnector(
            limit=cfg.global_concurrency,
            limit_per_host=cfg.per_host_concurrency,
            use_dns_cache=True,
            ttl_dns_cache=300,
            resolver=None if cfg.allow_private_addresses else PublicOnlyResolver(),
            enable_cleanup_closed=False,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=False,
            raise_for_status=False,
            timeout=aiohttp.ClientTimeout(
                total=None,  # the whole poll is bounded by asyncio.timeout in fetch()
                connect=cfg.connect_timeout,
                sock_connect=cfg.connect_timeout,
                sock_read=cfg.read_timeout,
            ),
            read_bufsize=CHUNK,
        )

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def __aenter__(self) -> Fetcher:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @asynccontextmanager
    async def _slot(self, host: str) -> AsyncIterator[None]:
        sem, users = self._hosts.get(host) or (asyncio.Semaphore(self._config.per_host_concurrency), 0)
        self._hosts[host] = (sem, users + 1)
        try:
            async with sem, self._global:
                yield
        finally:
            sem, users = self._hosts[host]
            if users <= 1:
                del self._hosts[host]
            else:
                self._hosts[host] = (sem, users - 1)

    async def fetch(self, request: FetchRequest) -> FetchResult:
        """Poll ``request.url`` once. Returns the result or raises ``FetchError``."""
        if self._session is None:
            raise RuntimeError("Fetcher.start() must be called (or use 'async with') before fetch()")
        fid = request.feed_id
        parts = urlsplit(request.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(
                "URL must be http(s) with a host; the feed is not polled until its URL is fixed",
                about=fid,
                reason="invalid_url",
            )
        host = f"{parts.scheme}://{parts.hostname}:{parts.port or ''}"
        async with self._slot(host):
            started = time.monotonic()
            try:
                async with asyncio.timeout(self._config.total_timeout):
                    return await self._fetch(request, started)
            except TimeoutError:
                raise FetchError(
                    f"no complete answer within {self._config.total_timeout:g} s (total_timeout); "
                    "the poll is abandoned and retried later",
                    about=fid,
                    reason="timeout",
                ) from None

    def _headers(self, request: FetchRequest) -> CIMultiDict[str]:
        headers: CIMultiDict[str] = CIMultiDict(
            {"User-Agent": self._user_agent, "Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING}
        )
        for name, value in request.headers.items():
            if name.lower() not in _RESERVED:
                headers[name] = value
        if request.etag:
            headers["If-None-Match"] = request.etag
        if request.last_modified:
            headers["If-Modified-Since"] = request.last_modified
        return headers

    def _scrub(self, text: str, request: FetchRequest) -> str:
        """Remove request header values from lower-layer error text before quoting it."""
        for value in request.headers.values():
            if len(value) >= 4:
                text = text.replace(value, "[redacted]")
        return text[:300]

    async def _fetch(self, request: FetchRequest, started: float) -> FetchResult:
        assert self._session is not None
        fid = request.feed_id
        cfg = self._config
        headers = self._headers(request)
        url = request.url
        origin = urlsplit(url)[:2]
        redirects = 0
        while True:
            if not cfg.allow_private_addresses:
                refuse_private_literal(url, feed_id=fid)
            try:
                async with self._session.get(url, headers=headers, allow_redirects=False) as resp:
                    if resp.status in REDIRECTS:
                        target = redirect_target(
                            str(resp.url),
                            resp.headers.get("Location"),
                            status=resp.status,
                            feed_id=fid,
                            hop=redirects + 1,
                            max_redirects=cfg.max_redirects,
                        )
                        redirects += 1
                        forget_credentials(headers, target, origin)
                        url = target
                        continue
                    return await self._finish(request, resp, started)
            except FetchError:
                raise
            except TimeoutError:
                raise FetchError(
                    "the server did not answer in time (connect_timeout/read_timeout); "
                    "the poll is abandoned and retried later",
                    about=fid,
                    reason="timeout",
                ) from None
            except aiohttp.InvalidURL:
                raise FetchError(
                    "URL cannot be requested; the feed is not polled until its URL is fixed",
                    about=fid,
                    reason="invalid_url",
                ) from None
            except (aiohttp.ClientConnectionError, OSError) as exc:
                raise FetchError(
                    f"connection failed ({type(exc).__name__}: {self._scrub(str(exc), request)}); "
                    "retried later",
                    about=fid,
                    reason="connect_error",
                ) from None
            except aiohttp.ClientError as exc:
                # A malformed response (bad status line, oversized headers, ...).
                raise FetchError(
                    f"invalid HTTP response ({type(exc).__name__}: {self._scrub(str(exc), request)}); "
                    "retried later",
                    about=fid,
                    reason="http_error",
                ) from None

    async def _finish(
        self, request: FetchRequest, resp: aiohttp.ClientResponse, started: float
    ) -> FetchResult:
        fid = request.feed_id
        status = resp.status
        etag = resp.headers.get("ETag")
        last_modified = resp.headers.get("Last-Modified")
        if status == 304:
            return FetchResult(
                feed_id=fid,
                url=str(resp.url),
                status=status,
                not_modified=True,
                content=b"",
                content_type=resp.headers.get("Content-Type"),
                etag=etag or request.etag,
                last_modified=last_modified or request.last_modified,
                elapsed=time.monotonic() - started,
            )
        if status in (429, 503):
            retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            wait = f"retry after {retry_after:g} s" if retry_after is not None else "backing off"
            raise FetchError(
                f"HTTP {status}: the server asks us to slow down; {wait}",
                about=fid,
                reason="rate_limited",
                status=status,
                retry_after=retry_after,
            )
        if status >= 400 or status < 200 or 300 <= status < 400:
            raise FetchError(
                f"HTTP {status}; the poll failed and is retried later",
                about=fid,
                reason="http_error",
                status=status,
            )
        content_type = resp.headers.get("Content-Type")
        media = (content_type or "").split(";", 1)[0].strip().lower()
        if media in _NOT_FEED_TYPES or media.startswith(_NOT_FEED_PREFIXES):
            raise FetchError(
                f"Content-Type {media[:60]!r} cannot be a feed; the poll is abandoned, check the feed URL",
                about=fid,
                reason="bad_content_type",
                status=status,
            )
        body = await read_body(resp, feed_id=fid, cap=self._config.max_body_bytes)
        if not body.strip():
            raise FetchError(
                f"HTTP {status} with an empty body; nothing to parse, retried later",
                about=fid,
                reason="empty",
                status=status,
            )
        if media == "application/octet-stream" and sniff_kind(body, None) not in ("xml", "json"):
            raise FetchError(
                "application/octet-stream body is neither XML nor JSON; the poll is abandoned",
                about=fid,
                reason="bad_content_type",
                status=status,
            )
        return FetchResult(
            feed_id=fid,
            url=str(resp.url),
            status=status,
            not_modified=False,
            content=body,
            content_type=content_type,
            etag=etag,
            last_modified=last_modified,
            elapsed=time.monotonic() - started,
        )
