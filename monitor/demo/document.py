"""The pure model of a replayed feed: which items are visible when, and the document cut to them.

* :func:`reveal_step` is the reveal rule: at start the oldest ``initial`` items (by
  date) are visible; one more becomes visible every ``reveal_every`` seconds until all
  are; then the document stays complete, or with ``loop=True`` goes back to the first
  step one period later and starts over.
* :class:`ReplayDocument` renders a feed document with only its ``n`` oldest items.

No sockets, no clock, no disk. Guarantees: ``render(total)`` returns the original
bytes unchanged, and any other rendition keeps the rest of the document byte for byte.
XML documents are cut by byte range, not re-serialised: expat reports where each
``<item>`` (RSS 2.0, RSS 1.0/RDF) or ``<entry>`` (Atom) starts and ends, and those
ranges are removed from the original bytes. The XML declaration, namespace
prefixes, comments and CDATA sections therefore come out exactly as written
(``ElementTree`` would rename prefixes and drop CDATA). In RSS 1.0 the channel's
``<rdf:Seq>`` entries of hidden items are removed as well. A document that cannot be
split into items raises :class:`~monitor.errors.ParseError`.
"""

from __future__ import annotations

import json
import math
import xml.parsers.expat
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal

from monitor.errors import ParseError

__all__ = [
    "DEFAULT_INITIAL_ITEMS",
    "DEFAULT_REVEAL_EVERY",
    "FeedFormat",
    "ReplayDocument",
    "RevealStep",
    "parse_date",
    "reveal_step",
]

FeedFormat = Literal["rss", "rdf", "atom", "json"]

DEFAULT_REVEAL_EVERY = 3.0
DEFAULT_INITIAL_ITEMS = 3

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


def parse_date(text: str) -> datetime | None:
    """An ISO 8601 or RFC 5322 date, UTC when it names no zone; ``None`` when unreadable."""
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
            found = [parse_date(item.dates[n]) for n in date_names if n in item.dates]
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
            parsed = [parse_date(v) for v in found if isinstance(v, str)]
            dates.append(next((d for d in parsed if d is not None), None))
        return dates

    def _render_json(self, shown: set[int]) -> bytes:
        items = [item for position, item in enumerate(self._json["items"]) if position in shown]
        return (json.dumps({**self._json, "items": items}, ensure_ascii=False, indent=2) + "\n").encode()
