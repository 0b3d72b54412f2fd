"""Replay the bundled demo feeds over loopback HTTP so that they look live.

The embedded default (``wiremon run`` with no configuration) polls these feeds like
any other: the server answers with the *original* document of each feed, cut down to
the items that are "visible" at the current time.

Reveal rule (per feed): at start the oldest ``initial_items`` items (by date) are
visible; one more becomes visible every ``reveal_every`` seconds until all are; then
the document stays complete, or with ``loop=True`` goes back to the first step one
period later and starts over.

This module is the I/O layer: :class:`ReplayServer`, an aiohttp server on loopback
with the HTTP semantics a real poller relies on: ``ETag`` and ``Last-Modified``,
``304 Not Modified`` for ``If-None-Match`` / ``If-Modified-Since``, ``Content-Type``
with a charset, gzip on ``Accept-Encoding: gzip``. Its time source is injectable so
tests step time without sleeping. The pure parts live beside it and are re-exported
here: :mod:`monitor.demo.manifest` (:class:`DemoFeed`, :func:`load_manifest`) and
:mod:`monitor.demo.document` (:func:`reveal_step`, :class:`ReplayDocument`).
"""

from __future__ import annotations

import gzip
import hashlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from types import TracebackType
from typing import Self

from aiohttp import web

from monitor.demo.document import (
    DEFAULT_INITIAL_ITEMS,
    DEFAULT_REVEAL_EVERY,
    FeedFormat,
    ReplayDocument,
    RevealStep,
    parse_date,
    reveal_step,
)
from monitor.demo.manifest import DemoFeed, load_manifest
from monitor.demo.timeshift import offset_to_now, shift_dates
from monitor.errors import ConfigError

__all__ = [
    "DEFAULT_INITIAL_ITEMS",
    "DEFAULT_REVEAL_EVERY",
    "DemoFeed",
    "FeedFormat",
    "ReplayDocument",
    "ReplayServer",
    "RevealStep",
    "load_manifest",
    "reveal_step",
]


def _etag_matches(header: str, etags: set[str]) -> bool:
    """RFC 9110 weak comparison of an ``If-None-Match`` list against our tags."""
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*":
            return True
        if candidate.removeprefix("W/") in etags:
            return True
    return False


def _accepts_gzip(header: str) -> bool:
    """Whether ``Accept-Encoding`` allows gzip (``gzip``/``x-gzip``/``*`` with q > 0)."""
    star: bool | None = None
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        coding = coding.strip().lower()
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if coding in ("gzip", "x-gzip"):
            return q > 0
        if coding == "*":
            star = q > 0
    return bool(star)


@dataclass(slots=True)
class _Rendition:
    body: bytes
    etag: str  # opaque tag without quotes
    _gzipped: bytes | None = None

    @property
    def gzipped(self) -> bytes:
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.body, mtime=0)
        return self._gzipped


class _FeedReplay:
    """One feed's document, reveal period and per-step cache of bytes and ETag."""

    def __init__(self, feed: DemoFeed, document: ReplayDocument, reveal_every: float) -> None:
        self.feed = feed
        self.document = document
        self.reveal_every = reveal_every
        self._renditions: dict[int, _Rendition] = {}

    def step(self, elapsed: float, initial: int, loop: bool) -> RevealStep:
        return reveal_step(
            self.document.total, elapsed, initial=initial, reveal_every=self.reveal_every, loop=loop
        )

    def rendition(self, visible: int) -> _Rendition:
        found = self._renditions.get(visible)
        if found is None:
            body = self.document.render(visible)
            found = _Rendition(body=body, etag=hashlib.sha256(body).hexdigest()[:32])
            self._renditions[visible] = found
        return found


class ReplayServer:
    """Serve the demo feeds on loopback, revealing their items over time.

    ``GET /`` lists the feeds as JSON; ``GET /feeds/<id>.<ext>`` serves one feed.
    ``clock`` measures the time since :meth:`start` (inject a fake to step time in
    tests); ``wall_clock`` anchors ``Last-Modified``. ``reveal_every=None`` makes
    each feed reveal at its manifest ``interval``.

    Use as ``async with ReplayServer() as server: ...`` or call :meth:`start` /
    :meth:`stop`.
    """

    def __init__(
        self,
        feeds: Sequence[DemoFeed] | None = None,
        *,
        reveal_every: float | None = DEFAULT_REVEAL_EVERY,
        initial_items: int = DEFAULT_INITIAL_ITEMS,
        loop: bool = False,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        shift_to_now: bool = False,
    ) -> None:
        """``shift_to_now`` moves every item date by one offset so that the newest item
        of all feeds is dated now (see ``timeshift``): a live-looking demo."""
        if reveal_every is not None and not reveal_every > 0:
            raise ConfigError(f"reveal_every: must be > 0 seconds, got {reveal_every}")
        if initial_items < 0:
            raise ConfigError(f"initial_items: must be >= 0, got {initial_items}")
        self._feeds = list(load_manifest() if feeds is None else feeds)
        self._initial = initial_items
        self._loop = loop
        self._clock = clock
        self._wall_clock = wall_clock
        self._by_path: dict[str, _FeedReplay] = {}
        raw = {feed.path: feed.read_bytes() for feed in self._feeds}
        if shift_to_now:
            offset = offset_to_now(raw.values(), datetime.fromtimestamp(wall_clock(), tz=UTC))
            raw = {path: shift_dates(data, offset) for path, data in raw.items()}
        for feed in self._feeds:
            document = ReplayDocument(raw[feed.path], feed.format, name=feed.file)
            period = feed.interval if reveal_every is None else reveal_every
            self._by_path[feed.path] = _FeedReplay(feed, document, period)
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._t0 = 0.0
        self._wall0 = 0.0

    # -- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Bind and serve; the reveal clock starts now. ``port=0`` picks a free port."""
        if self._runner is not None:
            raise RuntimeError("ReplayServer already started")
        app = web.Application()
        app.router.add_get("/", self._handle_index)
        app.router.add_get("/feeds/{name}", self._handle_feed)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        bound_host, bound_port = runner.addresses[0][:2]
        url_host = f"[{bound_host}]" if ":" in str(bound_host) else str(bound_host)
        self._base_url = f"http://{url_host}:{bound_port}"
        self._runner = runner
        self._t0 = self._clock()
        self._wall0 = self._wall_clock()

    async def stop(self) -> None:
        """Stop serving; idempotent."""
        runner, self._runner = self._runner, None
        self._base_url = None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- addresses

    @property
    def feeds(self) -> list[DemoFeed]:
        """The feeds served, in manifest order."""
        return list(self._feeds)

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running server."""
        if self._base_url is None:
            raise RuntimeError("ReplayServer is not started")
        return self._base_url

    @property
    def feed_urls(self) -> dict[str, str]:
        """Feed id to absolute URL."""
        base = self.base_url
        return {feed.id: f"{base}{feed.path}" for feed in self._feeds}

    # -- handlers

    def _elapsed(self) -> float:
        return self._clock() - self._t0

    async def _handle_index(self, request: web.Request) -> web.Response:
        elapsed = self._elapsed()
        base = self.base_url
        listing = []
        for replay in self._by_path.values():
            feed = replay.feed
            step = replay.step(elapsed, self._initial, self._loop)
            listing.append(
                {
                    "id": feed.id,
                    "agency": feed.agency,
                    "language": feed.language,
                    "format": feed.format,
                    "content_type": feed.content_type,
                    "interval": feed.interval,
                    "reveal_every": replay.reveal_every,
                    "url": f"{base}{feed.path}",
                    "items_total": replay.document.total,
                    "items_visible": step.visible,
                }
            )
        return web.json_response({"feeds": listing, "loop": self._loop})

    async def _handle_feed(self, request: web.Request) -> web.Response:
        replay = self._by_path.get(request.path)
        if replay is None:
            raise web.HTTPNotFound(text=f"no demo feed at {request.path}; see {self.base_url}/\n")
        step = replay.step(self._elapsed(), self._initial, self._loop)
        rendition = replay.rendition(step.visible)
        changed_at = math.floor(self._wall0 + step.revision * replay.reveal_every)
        last_modified = datetime.fromtimestamp(changed_at, UTC)
        use_gzip = _accepts_gzip(request.headers.get("Accept-Encoding", ""))
        etag = f'"{rendition.etag}-gz"' if use_gzip else f'"{rendition.etag}"'
        headers = {
            "ETag": etag,
            "Last-Modified": format_datetime(last_modified, usegmt=True),
            "Cache-Control": "no-cache",
            "Vary": "Accept-Encoding",
        }
        if self._not_modified(request, rendition.etag, last_modified):
            return web.Response(status=304, headers=headers)
        headers["Content-Type"] = f"{replay.feed.content_type}; charset=utf-8"
        if use_gzip:
            headers["Content-Encoding"] = "gzip"
            return web.Response(body=rendition.gzipped, headers=headers)
        return web.Response(body=rendition.body, headers=headers)

    @staticmethod
    def _not_modified(request: web.Request, etag: str, last_modified: datetime) -> bool:
        # RFC 9110 §13.2.2: If-None-Match wins; If-Modified-Since only when it is absent.
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match is not None:
            return _etag_matches(if_none_match, {f'"{etag}"', f'"{etag}-gz"'})
        if_modified_since = request.headers.get("If-Modified-Since")
        if if_modified_since is None:
            return False
        since = parse_date(if_modified_since)
        return since is not None and last_modified <= since
