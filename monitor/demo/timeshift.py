"""Move every date of a demo feed by one offset, so that replayed items look current.

The demo feeds are written about July 2017. Served as is, every item would be years
old: the item-age histogram and the breaking-story rule (K agencies within W minutes
of publication) would never show anything real. ``shift_dates`` rewrites the dates in
the bytes — RFC 822 in ``<pubDate>``/``<lastBuildDate>``, ISO 8601 in Atom
``<updated>``/``<published>``, RDF ``<dc:date>`` and JSON Feed ``date_published`` /
``date_modified`` — keeping their order and spacing. Pure: bytes in, bytes out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

_RFC822 = re.compile(rb"(<(pubDate|lastBuildDate)>)([^<]+)(</\2>)")
_ISO_XML = re.compile(rb"(<(updated|published|dc:date)>)([^<]+)(</\2>)")
_ISO_JSON = re.compile(rb'("(date_published|date_modified)"\s*:\s*")([^"]+)(")')


def _parse(text: str) -> datetime | None:
    text = text.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def dates_in(data: bytes) -> list[datetime]:
    """Every date ``shift_dates`` would move."""
    out = []
    for pattern in (_RFC822, _ISO_XML, _ISO_JSON):
        for match in pattern.finditer(data):
            parsed = _parse(match.group(3).decode("utf-8", "replace"))
            if parsed is not None:
                out.append(parsed)
    return out


def offset_to_now(documents: Iterable[bytes], now: datetime) -> timedelta:
    """The offset that makes the newest date of all ``documents`` equal ``now``."""
    newest = max((d for doc in documents for d in dates_in(doc)), default=None)
    return timedelta(0) if newest is None else now - newest


def shift_dates(data: bytes, offset: timedelta) -> bytes:
    """``data`` with every recognised date moved by ``offset``; other bytes untouched."""

    def rfc822(match: re.Match[bytes]) -> bytes:
        parsed = _parse(match.group(3).decode("utf-8", "replace"))
        if parsed is None:
            return match.group(0)
        text = format_datetime((parsed + offset).astimezone(UTC), usegmt=True)
        return match.group(1) + text.encode() + match.group(4)

    def iso(match: re.Match[bytes]) -> bytes:
        parsed = _parse(match.group(3).decode("utf-8", "replace"))
        if parsed is None:
            return match.group(0)
        text = (parsed + offset).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return match.group(1) + text.encode() + match.group(4)

    data = _RFC822.sub(rfc822, data)
    data = _ISO_XML.sub(iso, data)
    return _ISO_JSON.sub(iso, data)
