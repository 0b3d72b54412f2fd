"""Replay the bundled demo feeds over loopback HTTP so that they look live.

The embedded default (``wiremon run`` with no configuration) polls these feeds like
any other: the server answers with the *original* document of each feed, cut down to
the items that are "visible" at the current time.

Reveal rule (per feed): at start the oldest ``initial_items`` items (by date) are
visible; one more becomes visible every ``reveal_every`` seconds until all are; then
the document stays complete, or with ``loop=True`` goes back to the first step one
period later and starts over.

The module has two layers:

* pure: :class:`DemoFeed` / :func:`load_manifest` (the packaged manifest),
  :class:`ReplayDocument` (a document rendered with only its ``n`` oldest items,
  cached per ``n``) and :func:`reveal_step` (how many items are visible after a given
  time). No sockets, no clock.
* I/O: :class:`ReplayServer`, an aiohttp server on loopback with the HTTP semantics a
  real poller relies on: ``ETag`` and ``Last-Modified``, ``304 Not Modified`` for
  ``If-None-Match`` / ``If-Modified-Since``, ``Content-Type`` with a charset, gzip on
  ``Accept-Encoding: gzip``. Its time source is injectable so tests step time
  without sleeping.

XML documents are cut by byte range, not re-serialised: expat reports where each
``<item>`` (RSS 2.0, RSS 1.0/RDF) or ``<entry>`` (Atom) starts and ends, and those
ranges are removed from the original bytes. The XML declaration, namespace
prefixes, comments and CDATA sections therefore come out exactly as written
(``ElementTree`` would rename prefixes and drop CDATA). In RSS 1.0 the channel's
``<rdf:Seq>`` entries of hidden items are removed as well.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import time
import xml.parsers.expat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from importlib import resources
from pathlib import PurePosixPath
from types import TracebackType
from typing import Any, Literal, Self

import yaml
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from monitor.demo.timeshift import offset_to_now, shift_dates
from monitor.errors import ConfigError, ParseError

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

FeedFormat = Literal["rss", "rdf", "atom", "json"]

DEFAULT_REVEAL_EVERY = 3.0
DEFAULT_INITIAL_ITEMS = 3

_PACKAGE = "monitor.demo"
_FEEDS_DIR = "feeds"
_MANIFEST = "manifest.yml"

_MEDIA_TYPES: dict[str, FeedFormat] = {
    "application/rss+xml": "rss",
    "application/rdf+xml": "rdf",
    "application/atom+xml": "atom",
    "application/feed+json": "json",
}

# expat is created with namespace_separator=" ", so names read "uri local".
_RSS1 = "http://purl.org/rss/1.0/"
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_ATOM = "http://www.w3.org/2005/Atom"
_DC = "http://purl.org/dc/elements/1.1/"

# (item element, its parent) per XML format.
_ITEM_ELEMENTS: dict[FeedFormat, tuple[str, str]] = {
    "rss": ("item", "channel"),
    "rdf": (f"{_RSS1} item", f"{_RDF} RDF"),
    "atom": (f"{_ATOM} entry", f"{_ATOM} feed"),
}
# Child elements giving an item's date, best first.
_DATE_ELEMENTS: dict[FeedFormat, tuple[str, ...]] = {
    "rss": ("pubDate", f"{_DC} date"),
    "rdf": (f"{_DC} date",),
    "atom": (f"{_ATOM} published", f"{_ATOM} updated"),
}
_JSON_DATE_KEYS = ("date_published", "date_modified")


# --------------------------------------------------------------------------- manifest


class DemoFeed(BaseModel):
    """One bundled demo feed, as listed in ``monitor/demo/feeds/manifest.yml``.

    ``path`` is the URL path the replay server serves it at, ``/feeds/<id>.<ext>``
    where ``ext`` is the file's extension; it is derived when the manifest omits it.
    ``interval`` is the poll interval the embedded default uses for the feed, and its
    reveal period when the server is built with ``reveal_every=None``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    agency: str = Field(min_length=1)
    language: str = Field(pattern=r"^[a-z]{2}$", description="ISO 639-1 code of the items.")
    file: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*\.[A-Za-z0-9]+$")
    content_type: str = Field(description="Media type without parameters, e.g. application/rss+xml.")
    interval: float = Field(gt=0)
    path: str = Field(pattern=r"^/feeds/[A-Za-z0-9_.-]+$")

    @model_validator(mode="before")
    @classmethod
    def _derive_path(cls, data: Any) -> Any:
        if isinstance(data, dict) and "path" not in data and "id" in data and "file" in data:
            suffix = PurePosixPath(str(data["file"])).suffix
            return {**data, "path": f"/feeds/{data['id']}{suffix}"}
        return data

    @field_validator("content_type")
    @classmethod
    def _known_media_type(cls, value: str) -> str:
        if value not in _MEDIA_TYPES:
            known = ", ".join(sorted(_MEDIA_TYPES))
            raise ValueError(f"must be one of {known}, got {value!r}")
        return value

    @property
    def format(self) -> FeedFormat:
        """The document format, from ``content_type``."""
        return _MEDIA_TYPES[self.content_type]

    def read_bytes(self) -> bytes:
        """The packaged document, read through ``importlib.resources``."""
        return resources.files(_PACKAGE).joinpath(_FEEDS_DIR, self.file).read_bytes()


def load_manifest() -> list[DemoFeed]:
    """Read and validate the packaged manifest; raise :class:`ConfigError` listing every problem."""
    about = f"{_PACKAGE.replace('.', '/')}/{_FEEDS_DIR}/{_MANIFEST}"
    resource = resources.files(_PACKAGE).joinpath(_FEEDS_DIR, _MANIFEST)
    try:
        raw: Any = yaml.safe_load(resource.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError("cannot read the demo manifest", about=about) from exc
    entries = raw.get("feeds") if isinstance(raw, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ConfigError("expected a non-empty list under 'feeds'", about=about)
    feeds: list[DemoFeed] = []
    problems: list[str] = []
    for index, entry in enumerate(entries):
        try:
            feeds.append(DemoFeed.model_validate(entry))
        except ValidationError as exc:
            for err in exc.errors():
                where = "".join(f".{part}" for part in err["loc"])
                problems.append(f"feeds[{index}]{where}: {err['msg']}")
    seen: set[str] = set()
    for feed in feeds:
        if feed.id in seen:
            problems.append(f"feeds: duplicate id {feed.id!r}")
        seen.add(feed.id)
    if problems:
        raise ConfigError("; ".join(problems), about=about, problems=problems)
    return feeds


# --------------------------------------------------------------------------- reveal rule


@dataclass(frozen=True, slots=True)
class RevealStep:
    """What a feed shows at some moment.

    ``visible`` items are shown. ``revision`` counts the changes of the served
    document since start (it only grows, also across loops); the server derives
    ``Last-Modified`` from the time of the latest change, ``revision * reveal_every``.
    """

    visible: int
    revision: int


def reveal_step(
    total: int,
    elapsed: float,
    *,
    initial: int = DEFAULT_INITIAL_ITEMS,
    reveal_every: float = DEFAULT_REVEAL_EVERY,
    loop: bool = False,
) -> RevealStep:
    """How many of ``total`` items are visible ``elapsed`` seconds after start.

    Without ``loop`` the count grows by one per ``reveal_every`` until ``total``.
    With ``loop`` the complete document is shown for one period, then the cycle
    starts again at ``initial``.
    """
    if reveal_every <= 0:
        raise ValueError(f"reveal_every: must be > 0, got {reveal_every}")
    start = min(max(initial, 0), total)
    growth = total - start
    # The epsilon keeps exact multiples (0.1 * 3 / 0.1) on the step they name.
    steps = max(0, math.floor(max(elapsed, 0.0) / reveal_every + 1e-9))
    if growth == 0:
        return RevealStep(visible=total, revision=0)
    if not loop:
        done = min(steps, growth)
        return RevealStep(visible=start + done, revision=done)
    phase = steps % (growth + 1)
    return RevealStep(visible=start + phase, revision=steps)


# --------------------------------------------------------------------------- documents


@dataclass(slots=True)
class _XmlItem:
    position: int
    start: int
    end: int
    about: str | None = None
    dates: dict[str, str] = field(default_factory=dict)


def _tag_end(data: bytes, index: int) -> int:
    """Offset just past the tag that starts at ``data[index] == '<'`` (quote-aware)."""
    quote = 0
    for offset in range(index, len(data)):
        byte = data[offset]
        if quote:
            if byte == quote:
                quote = 0
        elif byte in (0x22, 0x27):
            quote = byte
        elif byte == 0x3E:
            return offset + 1
    raise ValueError(f"unterminated tag at byte {index}")


def _with_leading_space(data: bytes, start: int) -> int:
    """Move ``start`` back over the indentation before an element, so removal leaves no blank line."""
    while start > 0 and data[start - 1] in b" \t\r\n":
        start -= 1
    return start


def _parse_date(text: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            parsed = None
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _reveal_order(dates: Sequence[datetime | None]) -> list[int]:
    """Document positions, oldest first.

    By date when every item has one (ties: later in the document is older);
    otherwise the document is taken to list items newest first, as feeds do.
    """
    positions = list(range(len(dates)))
    if dates and all(d is not None for d in dates):
        known = [d for d in dates if d is not None]
        return sorted(positions, key=lambda p: (known[p], -p))
    return positions[::-1]


class ReplayDocument:
    """A feed document that can be rendered with only its ``n`` oldest items.

    Construction parses the document once; :meth:`render` is cached per ``n``.
    ``render(total)`` returns the original bytes unchanged.
    """

    def __init__(self, data: bytes, fmt: FeedFormat, *, name: str = "<document>") -> None:
        self.name = name
        self.format: FeedFormat = fmt
        self._data = data
        self._cache: dict[int, bytes] = {}
        self._xml_items: list[_XmlItem] = []
        self._seq_refs: list[tuple[str, int, int]] = []  # (rdf:resource, start, end)
        self._json: dict[str, Any] = {}
        try:
            dates = self._parse_json() if fmt == "json" else self._parse_xml()
        except (ValueError, xml.parsers.expat.ExpatError) as exc:
            raise ParseError(f"cannot split the {fmt} document into items", about=name) from exc
        self._order = _reveal_order(dates)

    @property
    def total(self) -> int:
        """Number of items in the full document."""
        return len(self._order)

    def render(self, visible: int) -> bytes:
        """The document with only its ``visible`` oldest items, in their original order."""
        visible = min(max(visible, 0), self.total)
        cached = self._cache.get(visible)
        if cached is None:
            if visible == self.total:
                cached = self._data
            else:
                shown = set(self._order[:visible])
                cached = self._render_json(shown) if self.format == "json" else self._render_xml(shown)
            self._cache[visible] = cached
        return cached

    # -- XML

    def _parse_xml(self) -> list[datetime | None]:
        data = self._data
        item_name, parent_name = _ITEM_ELEMENTS[self.format]
        date_names = _DATE_ELEMENTS[self.format]
        parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
        stack: list[str] = []
        current: list[_XmlItem] = []  # the open item, if any
        starts: list[int] = []
        text: list[str] = []

        def on_start(name: str, attrs: dict[str, str]) -> None:
            index = parser.CurrentByteIndex
            starts.append(index)
            if not current and name == item_name and stack and stack[-1] == parent_name:
                current.append(_XmlItem(len(self._xml_items), index, -1, attrs.get(f"{_RDF} about")))
            elif name == f"{_RDF} li" and stack[-2:] == [f"{_RSS1} items", f"{_RDF} Seq"]:
                self._seq_refs.append((attrs.get(f"{_RDF} resource", ""), index, -1))
            stack.append(name)
            text.clear()

        def on_end(name: str) -> None:
            index = parser.CurrentByteIndex
            start = starts.pop()
            stack.pop()
            start_tag_end = _tag_end(data, start)
            # expat reports an empty element's end *after* its tag; a normal end tag at its '<'.
            end = start_tag_end if data[start_tag_end - 2] == 0x2F else _tag_end(data, index)
            if current and stack and stack[-1] == item_name and name in date_names:
                current[0].dates.setdefault(name, "".join(text))
            if current and start == current[0].start:
                item = current.pop()
                item.start = _with_leading_space(data, start)
                item.end = end
                self._xml_items.append(item)
            elif self._seq_refs and self._seq_refs[-1][1:] == (start, -1):
                ref = self._seq_refs[-1][0]
                self._seq_refs[-1] = (ref, _with_leading_space(data, start), end)
            text.clear()

        def on_text(chunk: str) -> None:
            text.append(chunk)

        parser.StartElementHandler = on_start
        parser.EndElementHandler = on_end
        parser.CharacterDataHandler = on_text
        parser.Parse(data, True)
        if not self._xml_items:
            raise ValueError(f"no {item_name.split(' ')[-1]!r} elements under {parent_name.split(' ')[-1]!r}")
        dates: list[datetime | None] = []
        for item in self._xml_items:
            found = [_parse_date(item.dates[n]) for n in date_names if n in item.dates]
            dates.append(next((d for d in found if d is not None), None))
        return dates

    def _render_xml(self, shown: set[int]) -> bytes:
        hidden = [item for item in self._xml_items if item.position not in shown]
        cuts = [(item.start, item.end) for item in hidden]
        hidden_about = {item.about for item in hidden if item.about}
        cuts += [(start, end) for ref, start, end in self._seq_refs if ref in hidden_about]
        out: list[bytes] = []
        pos = 0
        for start, end in sorted(cuts):
            out.append(self._data[pos:start])
            pos = end
        out.append(self._data[pos:])
        return b"".join(out)

    # -- JSON Feed

    def _parse_json(self) -> list[datetime | None]:
        doc = json.loads(self._data)
        if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
            raise ValueError("a JSON Feed is an object with an 'items' array")
        self._json = doc
        dates: list[datetime | None] = []
        for item in doc["items"]:
            found = [item.get(k) for k in _JSON_DATE_KEYS] if isinstance(item, dict) else []
            parsed = [_parse_date(v) for v in found if isinstance(v, str)]
            dates.append(next((d for d in parsed if d is not None), None))
        return dates

    def _render_json(self, shown: set[int]) -> bytes:
        items = [item for position, item in enumerate(self._json["items"]) if position in shown]
        return (json.dumps({**self._json, "items": items}, ensure_ascii=False, indent=2) + "\n").encode()


# --------------------------------------------------------------------------- HTTP


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
        since = _parse_date(if_modified_since)
        return since is not None and last_modified <= since
