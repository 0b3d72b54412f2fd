"""Parsing and normalisation of real-looking documents, without servers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.enrich.language import detect_language, normalise_language_tag
from monitor.errors import ParseError
from monitor.ingest.normalize import FeedContext, detect_urgency, event_id_for, normalise_feed
from monitor.ingest.parse import parse_feed
from monitor.ingest.worker import parse_and_normalise
from tests.conftest import SHARED
from tests.support.feeds import Item, rss

CTX = FeedContext("afp-fr", "AFP")


def test_rss_item_is_normalised() -> None:
    doc = rss(
        [
            Item(
                guid="g1",
                title="Syrie&#160;: <b>trêve</b> &amp; sanctions",
                description="<p>Le <a href='x'>cessez-le-feu</a> tient.</p><script>alert(1)</script>",
                link="/relative/path",
            )
        ],
        language="fr-FR",
    )
    (item,) = normalise_feed(parse_feed(doc, "application/rss+xml", "http://127.0.0.1/feed.xml"), CTX)
    assert item.title == "Syrie : trêve & sanctions"
    assert item.summary == "Le cessez-le-feu tient."
    assert "alert" not in item.summary
    assert item.link == "http://127.0.0.1/relative/path"
    assert item.published == datetime(2017, 7, 7, 14, 0, tzinfo=UTC)
    assert item.language == "fr"
    assert item.event_id == event_id_for("AFP", "g1", None, "")
    assert item.event_id.startswith("afp:")


def test_event_id_is_stable_and_falls_back() -> None:
    assert event_id_for("AFP", "g", "l", "h") == event_id_for(" afp ", "g", None, "x")
    assert event_id_for("AFP", None, "http://l", "h") == event_id_for("AFP", None, "http://l", "other")
    assert event_id_for("AFP", None, None, "h1") != event_id_for("AFP", None, None, "h2")
    assert event_id_for("AFP", "g", None, "h") != event_id_for("Reuters", "g", None, "h")


def test_repeated_guid_inside_one_document_is_dropped() -> None:
    doc = rss([Item(guid="g", title="first"), Item(guid="g", title="second")])
    items = normalise_feed(parse_feed(doc), CTX)
    assert [i.title for i in items] == ["first"]


@pytest.mark.parametrize(
    ("title", "urgency"),
    [
        ("FLASH - Explosion", "flash"),
        ("URGENT Syrie: trêve", "urgent"),
        ("ALERTE - G20", "urgent"),
        ("EIL: Waffenruhe", "urgent"),
        ("СРОЧНО: перемирие", "urgent"),
        ("عاجل: هدنة", "urgent"),
        ("Urgences hospitalières saturées", "routine"),
        ("Breakingviews: markets", "routine"),
    ],
)
def test_urgency(title: str, urgency: str) -> None:
    assert detect_urgency(title) == urgency


def test_language_detection() -> None:
    assert detect_language("Перемирие в Сирии вступило в силу") == "ru"
    assert detect_language("وقف إطلاق النار في سوريا") == "ar"
    assert detect_language("Le cessez-le-feu est entré en vigueur dans le sud de la Syrie") == "fr"
    assert detect_language("The ceasefire took effect in the south of Syria on Sunday") == "en"
    assert detect_language("Die Waffenruhe ist in Kraft und wird von der Armee überwacht") == "de"
    assert detect_language("El alto el fuego entró en vigor en el sur de Siria según la ONU") == "es"
    assert detect_language("G20") is None
    assert normalise_language_tag("fr-FR") == "fr" and normalise_language_tag("??") is None


def test_wrong_declared_language_is_corrected() -> None:
    """Le Monde's 2014 feed declares <language>en</language> for French copy."""
    data = (SHARED / "corpus/agency-feeds/lemonde-fr-une-2014-g20.xml").read_bytes()
    items = normalise_feed(parse_feed(data), FeedContext("lemonde", "Le Monde"))
    assert len(items) >= 20
    assert sum(i.language == "fr" for i in items) > len(items) * 0.8


def test_json_feed() -> None:
    doc = (
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "x", "items": ['
        b'{"id": "1", "title": "Hello", "content_html": "<p>Hi <script>x()</script></p>",'
        b' "url": "https://example.org/1", "date_published": "2024-01-02T03:04:05Z"}]}'
    )
    (item,) = normalise_feed(parse_feed(doc, "application/feed+json"), CTX)
    assert item.title == "Hello" and item.body == "Hi" and item.guid == "1"
    assert item.published == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    "data", [b"", b"   ", b"<html><body>not a feed</body></html>", b'{"a": 1}', b"\x00\xff"]
)
def test_not_a_feed(data: bytes) -> None:
    with pytest.raises(ParseError):
        parse_feed(data)
    out = parse_and_normalise(data, None, "http://x/", CTX)
    assert out.error and not out.items


def test_every_agency_feed_of_the_corpus_yields_items() -> None:
    for path in sorted((SHARED / "corpus/agency-feeds").glob("*.xml")):
        out = parse_and_normalise(path.read_bytes(), "application/rss+xml", "http://127.0.0.1/", CTX)
        assert out.error is None, path.name
        assert len(out.items) >= 10, path.name
        assert all(i.title for i in out.items), path.name


def test_utf7_charset_from_http_is_not_obeyed() -> None:
    """'+ADw-' is '<' in UTF-7: a charset header must not turn text into markup."""
    doc = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>'
        b"+ADw-script+AD4-alert(1)+ADw-/script+AD4- hello</title><guid>u7</guid></item></channel></rss>"
    )
    out = parse_and_normalise(doc, "application/rss+xml; charset=utf-7", "http://x/", CTX)
    assert out.items and "<script" not in out.items[0].title


def test_fast_event_construction_matches_validation() -> None:
    """poll.build_events skips re-validation; its events must serialise like validated ones."""
    from monitor.ingest.dedup import Decision
    from monitor.models import EnrichedEvent, Evidence, TopicMatch
    from monitor.poll import _FAST_EVENTS, build_events

    assert _FAST_EVENTS
    doc = rss([Item(guid="g1", title="Syrie : trêve", description="<p>Le cessez-le-feu tient.</p>")])
    (item,) = normalise_feed(parse_feed(doc), CTX)
    topics = [
        TopicMatch(
            topic="syria_ceasefire",
            score=0.9,
            evidence=[Evidence(rule="r", text="trêve", field="title", start=8, end=13)],
        )
    ]
    when = datetime(2024, 5, 1, tzinfo=UTC)
    (event,) = build_events([Decision(item, "updated", 2)], [topics], when, when)
    valid = EnrichedEvent.model_validate(event.model_dump())
    assert event.model_dump_json() == valid.model_dump_json()
    assert event.status == "updated" and event.revision == 2
