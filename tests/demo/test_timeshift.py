"""Demo dates move by one offset, in every format, keeping order and spacing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import feedparser

from monitor.demo.replay import load_manifest
from monitor.demo.timeshift import dates_in, offset_to_now, shift_dates

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_every_demo_feed_shifts_to_now_keeping_spacing() -> None:
    docs = {f.id: f.read_bytes() for f in load_manifest()}
    offset = offset_to_now(docs.values(), NOW)
    assert offset > timedelta(days=365)
    newest = []
    for feed_id, data in docs.items():
        before = dates_in(data)
        shifted = shift_dates(data, offset)
        after = dates_in(shifted)
        assert len(after) == len(before) > 0, feed_id
        assert all(a - b == offset for a, b in zip(after, before, strict=True)), feed_id
        newest.append(max(after))
        if feed_id.startswith("france24"):
            json.loads(shifted)
        else:
            parsed = feedparser.parse(shifted)
            assert not parsed.bozo, (feed_id, parsed.get("bozo_exception"))
            assert (
                (parsed.entries
                and parsed.entries[0].get("published_parsed"))
                or parsed.entries[0].get("updated_parsed")
            )
    assert max(newest) == NOW


def test_other_bytes_are_untouched() -> None:
    doc = (
        b"<rss><channel><title>pubDate 2017</title><item><pubDate>Fri, 07 Jul 2017 14:00:00 GMT</pubDate>"
        b"<description>2017-07-07T14:00:00Z</description></item></channel></rss>"
    )
    out = shift_dates(doc, timedelta(days=1))
    assert b"<pubDate>Sat, 08 Jul 2017 14:00:00 GMT</pubDate>" in out
    assert b"<description>2017-07-07T14:00:00Z</description>" in out
    assert b"<title>pubDate 2017</title>" in out
