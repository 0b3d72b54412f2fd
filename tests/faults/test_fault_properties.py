"""Property tests of the whole parse + normalise wrapper the service runs on every body.

``monitor.ingest.worker.parse_and_normalise`` promises never to raise: any bytes, any
Content-Type, and what comes out is publishable (plain text without markup, http(s)
links or none, a stable event id). Inputs are raw bytes and feed-shaped documents
assembled from hostile fragments (entities, DOCTYPEs, CDATA, BOMs, broken encodings,
script and event-handler markup, odd URLs).
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.ingest.normalize import FeedContext
from monitor.ingest.worker import ParseOutput, parse_and_normalise

CTX = FeedContext("prop", "PROP", None)
TAG = re.compile(r"<[A-Za-z/!?]")
CONTENT_TYPES = st.sampled_from(
    [
        None,
        "application/rss+xml",
        "application/atom+xml; charset=utf-8",
        "text/html; charset=utf-7",
        "application/json",
        "application/feed+json",
        "text/xml; charset=utf-16",
        "application/octet-stream",
        "text/plain; charset=klingon",
    ]
)
FRAGMENTS = st.sampled_from(
    [
        "<script>alert(1)</script>",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        '<img src=x onerror="alert(1)">',
        "&amp;lt;b onclick=x&amp;gt;",
        "<![CDATA[<iframe src=javascript:alert(1)>]]>",
        "&lol9;",
        "&#0;",
        "&#xD800;",
        "\u202e",
        "\x00",
        "<style>p{}</style>",
        "<a href='javascript:alert(1)'>x</a>",
        "ÿþ",
        "Ω≈ç√",
        "&",
        "<",
        "]]>",
        "-->",
        "<!--",
        "\r\n",
        "x" * 50,
    ]
)
LINKS = st.sampled_from(
    [
        "javascript:alert(1)",
        "data:text/html,<b>",
        "http://127.0.0.1/a",
        "//evil.example/x",
        "/relative",
        " http://127.0.0.1/ space",
        "http://user:pw@127.0.0.1/",
        "mailto:x@y",
        "http://[::1",
        "",
    ]
)


def item(title: str, body: str, link: str, guid: str) -> str:
    return (
        f"<item><title>{title}</title><link>{link}</link><guid>{guid}</guid>"
        f"<description>{body}</description></item>"
    )


@st.composite
def feeds(draw: st.DrawFn) -> bytes:
    head = draw(
        st.sampled_from(
            [
                '<?xml version="1.0" encoding="utf-8"?>',
                "",
                '<?xml version="1.0" encoding="iso-8859-1"?>',
                '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol9 "lol">]>',
                '<?xml version="1.0"?><!DOCTYPE rss SYSTEM "http://127.0.0.1:9/x.dtd">',
            ]
        )
    )
    items = draw(
        st.lists(
            st.tuples(
                st.lists(FRAGMENTS, max_size=4).map("".join),
                st.lists(FRAGMENTS, max_size=6).map("".join),
                LINKS,
                st.text(max_size=10),
            ),
            max_size=4,
        )
    )
    body = "".join(item(t, b, link, g) for t, b, link, g in items)
    doc = f'{head}<rss version="2.0"><channel><title>p</title>{body}</channel></rss>'
    encoding = draw(st.sampled_from(["utf-8", "latin-1", "utf-16"]))
    raw = doc.encode(encoding, errors="replace")
    cut = draw(st.integers(min_value=0, max_value=len(raw)))
    return raw if draw(st.booleans()) else raw[:cut]


def check(out: ParseOutput) -> None:
    assert isinstance(out, ParseOutput)
    if out.error is not None:
        assert out.items == []
        return
    for it in out.items:
        for text in (it.title, it.summary, it.body):
            assert not TAG.search(text), text
            assert "\x00" not in text
        assert it.link is None or it.link.startswith(("http://", "https://")), it.link
        assert it.event_id.startswith("prop:")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096), CONTENT_TYPES)
def test_any_bytes_never_crash(data: bytes, content_type: str | None) -> None:
    check(parse_and_normalise(data, content_type, "http://127.0.0.1/feed", CTX))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(feeds(), CONTENT_TYPES)
def test_hostile_feed_documents_give_publishable_items(data: bytes, content_type: str | None) -> None:
    out = parse_and_normalise(data, content_type, "http://127.0.0.1/feed", CTX)
    check(out)
    # same bytes, same items: event ids do not depend on when or where we parse
    again = parse_and_normalise(data, content_type, "http://127.0.0.1/feed", CTX)
    assert [i.event_id for i in again.items] == [i.event_id for i in out.items]
