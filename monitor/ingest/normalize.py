"""Normalise a raw feed entry into a ``WireItem``: clean text, UTC times, a stable id.

Pure. The event id depends only on the agency and the item's identity (guid, else
link, else content), never on which instance or feed saw it first, so every instance
publishes the same item under the same key.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from ..enrich.language import detect_language, normalise_language_tag
from ..models import Urgency, WireItem
from .parse import ParsedFeed, RawEntry
from .textclean import html_to_text, safe_link

MAX_TITLE = 1_000
MAX_SUMMARY = 20_000
MAX_BODY = 200_000
MAX_LIST = 50

# Agency urgency markers at the head of a title, in the languages the monitor reads.
_FLASH = re.compile(r"^\W*(flash|молния|عاجل جدا)\b", re.IGNORECASE)
_URGENT = re.compile(
    r"^\W*(urgent|urgente|alerte|breaking(\s+news)?|eil(meldung)?|dringend|срочно|عاجل"
    r"|última hora|ultima ora)"
    r"(?=\W|$)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class FeedContext:
    """What the configuration says about the feed an entry came from."""

    feed_id: str
    agency: str
    language: str | None = None  # configured: wins over what the feed declares


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "agency"


def event_id_for(agency: str, guid: str | None, link: str | None, content_hash: str) -> str:
    """Stable id: ``<agency-slug>:<32 hex>`` over agency + guid (else link, else content)."""
    if guid:
        basis = "guid\x1f" + guid.strip()
    elif link:
        basis = "link\x1f" + link.strip()
    else:
        basis = "hash\x1f" + content_hash
    digest = hashlib.sha256(f"{agency.strip().lower()}\x1f{basis}".encode()).hexdigest()[:32]
    return f"{slug(agency)}:{digest}"


def detect_urgency(title: str) -> Urgency:
    if _FLASH.match(title):
        return "flash"
    if _URGENT.match(title):
        return "urgent"
    return "routine"


def content_hash_of(title: str, summary: str, body: str, link: str | None) -> str:
    data = "\x1f".join((title, summary, body, link or ""))
    return hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()


def _clip(items: list[str]) -> list[str]:
    out: list[str] = []
    for value in items[:MAX_LIST]:
        text = html_to_text(value, max_chars=200)
        if text and text not in out:
            out.append(text)
    return out


def normalise_entry(
    entry: RawEntry, feed: ParsedFeed, ctx: FeedContext, base_url: str | None = None
) -> WireItem:
    """One ``WireItem`` from one raw entry. Never raises on odd content."""
    title = html_to_text(entry.title, max_chars=MAX_TITLE)
    summary = html_to_text(entry.summary, max_chars=MAX_SUMMARY)
    body = html_to_text(entry.content, max_chars=MAX_BODY) if entry.content else ""
    if body and summary and body.startswith(summary):
        pass  # summary is the lede of the body; keep both, consumers want either
    if summary == title:
        summary = ""
    link = safe_link(entry.link, base_url or feed.link)
    guid = entry.guid.strip()[:1000] if entry.guid else None
    digest = content_hash_of(title, summary, body, link)

    language: str | None
    detected = detect_language(" ".join((title, summary, body[:1000])))
    declared = normalise_language_tag(entry.language) or normalise_language_tag(feed.language)
    if ctx.language:
        language, source = ctx.language, "config"
    elif detected and detected != declared:
        # feeds declare wrong languages (see corpus/SOURCES.md); confident text wins
        language, source = detected, "detected"
    elif declared:
        language, source = declared, ("item" if normalise_language_tag(entry.language) else "feed")
    else:
        language, source = None, "unknown"

    return WireItem(
        event_id=event_id_for(ctx.agency, guid, link, digest),
        agency=ctx.agency,
        feed_id=ctx.feed_id,
        guid=guid,
        link=link,
        title=title,
        summary=summary,
        body=body,
        published=entry.published,
        updated=entry.updated,
        authors=_clip(entry.authors),
        categories=_clip(entry.categories),
        language=language,
        language_source=source,  # type: ignore[arg-type]
        urgency=detect_urgency(title),
        content_hash=digest,
    )


def normalise_feed(feed: ParsedFeed, ctx: FeedContext, base_url: str | None = None) -> list[WireItem]:
    """Every entry of a document, with repeats of one id inside the document dropped
    (real feeds repeat GUIDs within one document; the first occurrence wins)."""
    seen: set[str] = set()
    items: list[WireItem] = []
    for entry in feed.entries:
        item = normalise_entry(entry, feed, ctx, base_url)
        if item.event_id in seen:
            continue
        seen.add(item.event_id)
        items.append(item)
    return items
