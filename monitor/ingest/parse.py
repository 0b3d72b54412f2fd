"""Turn fetched bytes into raw entries: RSS 0.9x/1.0/2.0, Atom and RDF via feedparser,
JSON Feed 1.0/1.1 via ``json``.

Pure: bytes in, ``ParsedFeed`` out, no I/O. feedparser never fetches here (it is only
ever handed bytes), and the bytes pass through ``defuse_xml`` first, so DOCTYPEs —
entity bombs, external entities, remote DTDs — never reach an XML parser.

A broken feed is not an error while items can be extracted: feedparser's "bozo" flag
is reported in ``ParsedFeed.problem`` and counted by the caller. ``ParseError`` means
nothing usable came out.
"""

from __future__ import annotations

import json
import time
from calendar import timegm
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser

from ..errors import ParseError
from .safety import defuse_xml, safe_charset, sniff_kind

# feedparser's own sanitiser and URI resolver are its slowest parts; we turn HTML into
# plain text ourselves (textclean), which drops scripts and handlers anyway.
_FEEDPARSER_OPTIONS: dict[str, Any] = {"sanitize_html": False, "resolve_relative_uris": False}
MAX_ENTRIES = 2000


@dataclass(slots=True)
class RawEntry:
    """One entry as the feed gave it; strings may still hold HTML."""

    guid: str | None = None
    link: str | None = None
    title: str = ""
    title_is_html: bool = False
    summary: str = ""
    content: str = ""
    published: datetime | None = None
    updated: datetime | None = None
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    language: str | None = None


@dataclass(slots=True)
class ParsedFeed:
    """What came out of one document."""

    format: str
    title: str = ""
    link: str | None = None
    language: str | None = None
    entries: list[RawEntry] = field(default_factory=list)
    problem: str | None = None  # why feedparser flagged the document (bozo), if it did
    problem_kind: str | None = None  # bounded label for metrics
    truncated: bool = False


def _struct_to_dt(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(timegm(value), tz=UTC)
    except (OverflowError, ValueError, TypeError, OSError):
        return None


def _iso_to_dt(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _problem_kind(exc: BaseException | None) -> str:
    name = type(exc).__name__ if exc is not None else "unknown"
    if "Encoding" in name:
        return "encoding"
    if "SAX" in name or "Expat" in name or "NonXML" in name:
        return "not_well_formed"
    if "CharacterEncoding" in name:
        return "encoding"
    return "other"


def _safe_content_type(content_type: str | None) -> str:
    """Drop a charset parameter feedparser must not obey (UTF-7 & co. turn '+ADw-' into '<')."""
    if not content_type:
        return "application/xml"
    media, _, params = content_type.partition(";")
    kept = []
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.lower() == "charset" and not safe_charset(value.strip().strip('"').strip("'")):
            continue
        if key:
            kept.append(param.strip())
    return "; ".join([media.strip(), *kept])


def _parse_xml(data: bytes, content_type: str | None, url: str | None) -> ParsedFeed:
    headers = {"content-type": _safe_content_type(content_type)}
    if url:
        headers["content-location"] = url
    result = feedparser.parse(defuse_xml(data), response_headers=headers, **_FEEDPARSER_OPTIONS)
    feed = result.get("feed", {})
    entries = result.get("entries", [])
    if not result.get("version") and not entries:
        exc = result.get("bozo_exception")
        raise ParseError(
            f"not a feed (feedparser found no RSS/Atom/RDF structure{': ' + str(exc) if exc else ''})"
        )
    out = ParsedFeed(
        format=result.get("version") or "unknown",
        title=_str(feed.get("title")),
        link=feed.get("link") if isinstance(feed.get("link"), str) else None,
        language=_str(feed.get("language")) or None,
    )
    if result.get("bozo"):
        exc = result.get("bozo_exception")
        out.problem = f"{type(exc).__name__}: {exc}" if exc else "ill-formed document"
        out.problem_kind = _problem_kind(exc)
    if len(entries) > MAX_ENTRIES:
        entries = entries[:MAX_ENTRIES]
        out.truncated = True
    for e in entries:
        content = ""
        contents = e.get("content")
        if contents:
            content = "\n".join(_str(c.get("value")) for c in contents if isinstance(c, dict))
        title_detail = e.get("title_detail") or {}
        authors = [_str(a.get("name")) for a in e.get("authors", []) if isinstance(a, dict) and a.get("name")]
        tags = [_str(t.get("term")) for t in e.get("tags", []) if isinstance(t, dict) and t.get("term")]
        guid = e.get("id")
        out.entries.append(
            RawEntry(
                guid=guid if isinstance(guid, str) and guid.strip() else None,
                link=e.get("link") if isinstance(e.get("link"), str) else None,
                title=_str(e.get("title")),
                title_is_html=_str(title_detail.get("type")) == "text/html",
                summary=_str(e.get("summary")),
                content=content,
                published=_struct_to_dt(e.get("published_parsed")),
                updated=_struct_to_dt(e.get("updated_parsed")),
                authors=authors,
                categories=tags,
                language=_str(title_detail.get("language")) or None,
            )
        )
    return out


def _parse_json_feed(data: bytes) -> ParsedFeed:
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or not _str(doc.get("version")).startswith("https://jsonfeed.org/version/"):
        raise ParseError("JSON document is not a JSON Feed (no 'version' https://jsonfeed.org/version/...)")
    items = doc.get("items")
    if not isinstance(items, list):
        raise ParseError("JSON Feed has no 'items' list")
    out = ParsedFeed(
        format="json" + _str(doc.get("version")).rsplit("/", 1)[-1],
        title=_str(doc.get("title")),
        link=_str(doc.get("home_page_url")) or None,
        language=_str(doc.get("language")) or None,
    )
    if len(items) > MAX_ENTRIES:
        items = items[:MAX_ENTRIES]
        out.truncated = True
    for item in items:
        if not isinstance(item, dict):
            continue
        authors_raw = item.get("authors") or (
            [item["author"]] if isinstance(item.get("author"), dict) else []
        )
        authors = [_str(a.get("name")) for a in authors_raw if isinstance(a, dict) and a.get("name")]
        guid = item.get("id")
        out.entries.append(
            RawEntry(
                guid=str(guid) if isinstance(guid, str | int) and str(guid).strip() else None,
                link=_str(item.get("url")) or None,
                title=_str(item.get("title")),
                summary=_str(item.get("summary")),
                content=_str(item.get("content_html")) or _str(item.get("content_text")),
                published=_iso_to_dt(item.get("date_published")),
                updated=_iso_to_dt(item.get("date_modified")),
                authors=authors,
                categories=[t for t in item.get("tags", []) if isinstance(t, str)][:50]
                if isinstance(item.get("tags"), list)
                else [],
                language=_str(item.get("language")) or None,
            )
        )
    return out


def parse_feed(data: bytes, content_type: str | None = None, url: str | None = None) -> ParsedFeed:
    """Parse one fetched document. Raises ``ParseError`` when no feed can be read."""
    if not data.strip():
        raise ParseError("empty document")
    kind = sniff_kind(data, content_type)
    if kind == "json":
        return _parse_json_feed(data)
    try:
        return _parse_xml(data, content_type, url)
    except ParseError:
        raise
    except (RecursionError, MemoryError, ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        # feedparser's loose (sgmllib) path raises odd things on hostile input
        raise ParseError(f"feedparser failed: {type(exc).__name__}: {exc}") from None


def now_utc() -> datetime:
    return datetime.fromtimestamp(time.time(), tz=UTC)
