"""The pure parts of the demo replay: manifest, reveal rule, document slicing."""

from __future__ import annotations

import json
from pathlib import Path

import feedparser
import pytest

from monitor.demo.replay import (
    DemoFeed,
    ReplayDocument,
    ReplayServer,
    RevealStep,
    load_manifest,
    reveal_step,
)
from monitor.errors import ConfigError, ParseError

FEEDS = load_manifest()
SEED_COPY = Path(__file__).parent / "data" / "seed-dispatch.txt"
SEED_SHARED = Path(__file__).resolve().parents[3] / "shared" / "seed-dispatch.txt"
URGENT = ("URGENT", "URGENTE", "FLASH", "EIL", "СРОЧНО", "عاجل")


def test_manifest_covers_the_agencies_languages_and_formats() -> None:
    assert 8 <= len(FEEDS) <= 10
    assert len({feed.id for feed in FEEDS}) == len(FEEDS)
    assert {"fr", "en", "de", "es", "ru", "ar", "it"} <= {feed.language for feed in FEEDS}
    assert {feed.format for feed in FEEDS} == {"rss", "rdf", "atom", "json"}
    for feed in FEEDS:
        assert feed.path == f"/feeds/{feed.id}.{feed.file.rsplit('.', 1)[1]}"
        assert 2 <= feed.interval <= 5
        assert feed.read_bytes()


def test_demo_feed_validation_names_the_field() -> None:
    with pytest.raises(ValueError, match="content_type"):
        DemoFeed.model_validate(
            {
                "id": "x",
                "agency": "X",
                "language": "en",
                "file": "x.xml",
                "content_type": "text/html",
                "interval": 1,
            }
        )


def test_reveal_step() -> None:
    assert reveal_step(10, 0.0) == RevealStep(visible=3, revision=0)
    assert reveal_step(10, 2.99) == RevealStep(visible=3, revision=0)
    assert reveal_step(10, 3.0) == RevealStep(visible=4, revision=1)
    assert reveal_step(10, 0.3, reveal_every=0.1) == RevealStep(visible=6, revision=3)
    assert reveal_step(10, 1e6) == RevealStep(visible=10, revision=7)
    assert reveal_step(10, -5.0) == RevealStep(visible=3, revision=0)
    assert reveal_step(2, 100.0) == RevealStep(visible=2, revision=0)
    assert reveal_step(10, 0.0, initial=0).visible == 0
    # loop: 3..10 over 7 steps, complete for one period, then 3 again; revision keeps growing
    looped = [reveal_step(10, 3.0 * s, loop=True) for s in range(10)]
    assert [step.visible for step in looped] == [3, 4, 5, 6, 7, 8, 9, 10, 3, 4]
    assert [step.revision for step in looped] == list(range(10))
    with pytest.raises(ValueError, match="reveal_every"):
        reveal_step(10, 1.0, reveal_every=0)


@pytest.mark.parametrize("feed", FEEDS, ids=[f.id for f in FEEDS])
def test_render_keeps_the_document_and_only_cuts_items(feed: DemoFeed) -> None:
    original = feed.read_bytes()
    document = ReplayDocument(original, feed.format, name=feed.file)
    assert 8 <= document.total <= 15
    assert document.render(document.total) is original
    assert document.render(99) is original
    previous: set[str] = set()
    for visible in range(document.total + 1):
        body = document.render(visible)
        assert document.render(visible) is body  # cached
        if feed.format == "json":
            ids = [item["id"] for item in json.loads(body)["items"]]
        else:
            assert body.startswith(original[: original.index(b"?>") + 2])  # XML declaration kept
            parsed = feedparser.parse(body)
            assert not parsed.bozo
            ids = [entry.id for entry in parsed.entries]
        assert len(ids) == visible
        assert previous <= set(ids)  # items only appear, never disappear
        previous = set(ids)


def test_rdf_sequence_lists_only_visible_items() -> None:
    ansa = next(feed for feed in FEEDS if feed.format == "rdf")
    body = ReplayDocument(ansa.read_bytes(), "rdf").render(2).decode()
    assert body.count("<rdf:li ") == 2
    assert body.count("<item ") == 2
    assert 'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"' in body


def test_each_feed_has_one_or_two_urgents() -> None:
    for feed in FEEDS:
        document = feed.read_bytes()
        if feed.format == "json":
            titles = [item["title"] for item in json.loads(document)["items"]]
        else:
            titles = [entry.title for entry in feedparser.parse(document).entries]
        urgents = [t for t in titles if t.split(" ", 1)[0].rstrip(":") in URGENT]
        assert 1 <= len(urgents) <= 2, (feed.id, urgents)


def test_items_without_dates_reveal_bottom_up() -> None:
    doc = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><guid>c</guid></item><item><guid>b</guid></item><item><guid>a</guid></item>"
        b"</channel></rss>"
    )
    rendered = ReplayDocument(doc, "rss").render(1)
    assert [e.id for e in feedparser.parse(rendered).entries] == ["a"]


def test_broken_documents_raise_parse_error() -> None:
    with pytest.raises(ParseError, match=r"bad\.xml"):
        ReplayDocument(b"<rss><channel><item>", "rss", name="bad.xml")
    with pytest.raises(ParseError):
        ReplayDocument(b'<rss version="2.0"><channel></channel></rss>', "rss")
    with pytest.raises(ParseError):
        ReplayDocument(b'{"version": "x"}', "json")


def test_server_rejects_bad_options() -> None:
    with pytest.raises(ConfigError, match="reveal_every"):
        ReplayServer(reveal_every=0)


def test_seed_copy_matches_the_shared_reference() -> None:
    """tests/demo/data holds a copy so that a fresh clone can run the suite."""
    if not SEED_SHARED.exists():
        pytest.skip(f"{SEED_SHARED} not present on this machine")
    assert SEED_COPY.read_bytes() == SEED_SHARED.read_bytes()
