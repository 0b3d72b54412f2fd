"""html_to_text and safe_link: feedparser's sanitizer corpus, hostile markup, properties."""

from __future__ import annotations

import re
from pathlib import Path

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.ingest.textclean import html_to_text, safe_link

SANITIZE = Path(__file__).resolve().parent.parent / "data" / "feedparser" / "sanitize"
# Anything that could become live markup if the text were pasted into HTML unescaped.
LIVE = re.compile(r"<[A-Za-z/!?]|<script|javascript:|\bon[a-z]+\s*=|expression\s*\(", re.IGNORECASE)


def texts(parsed: feedparser.FeedParserDict) -> list[str]:
    out = [parsed.feed[k] for k in ("title", "subtitle", "rights") if parsed.feed.get(k)]
    for entry in parsed.entries:
        out += [entry[k] for k in ("title", "summary") if entry.get(k)]
        out += [c.value for c in entry.get("content", [])]
    return out


@pytest.mark.parametrize("path", sorted(SANITIZE.glob("*.xml")), ids=lambda p: p.name)
def test_feedparser_sanitize_cases_leave_no_live_markup(path: Path) -> None:
    # sanitize_html=False: we want the raw hostile HTML, not feedparser's cleaned copy.
    parsed = feedparser.parse(path.read_bytes(), sanitize_html=False)
    for value in texts(parsed):
        out = html_to_text(value)
        assert not LIVE.search(out), (value, out)


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>Hello <b>world</b> &amp; friends</p><p>two</p>", "Hello world & friends\ntwo"),
        ("a<br>b<br/>c</div>d</li>e", "a\nb\nc\nd\ne"),
        ("x<script>alert(1)</script>y<style>p{}</style>z", "xyz"),
        ("<iframe src=x>inner</iframe><object>o</object>ok", "ok"),
        ("<!-- hidden -->seen<![CDATA[cdata]]>", "seen"),
        ("<SCRIPT type=text/javascript>bad()</SCRIPT >good", "good"),
        ("before<script>never closed", "before"),
        ("&lt;script&gt;alert(1)&lt;/script&gt;after", "after"),
        ("&#60;img src=x onerror=alert(1)&#62;", ""),
        ("double &amp;lt;b&amp;gt; once", "double &lt;b&gt; once"),
        ("5 &lt; 6 and x &lt;y", "5 < 6 and x < y"),
        ("caf&eacute; &#233; &#xE9;", "café é é"),
        ('<a href="javascript:alert(1)" onclick="x()">link</a>', "link"),
        ('<a title="a>b">t</a>', "t"),
        ("<scr<script>ipt>alert(1)</script>", ""),
        ("\x00<\x00script>bad()</script>ok", "ok"),
        ("  tabs\tand   spaces\u00a0\u00a0here \r\n\r\n\r\n\r\nnext  ", "tabs and spaces here\n\nnext"),
        ("lone \ud800 surrogate \ufeff", "lone surrogate"),
    ],
)
def test_examples(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_max_chars() -> None:
    assert len(html_to_text("<p>" + "word " * 1000 + "</p>", max_chars=100)) <= 100
    assert html_to_text("x" * 10_000_000, max_chars=50) == "x" * 50


@given(st.text())
@settings(max_examples=400, deadline=None)
def test_any_text_is_safe(value: str) -> None:
    out = html_to_text(value)
    assert not re.search(r"<[A-Za-z/!?]", out)
    assert "\x00" not in out and out == out.strip()
    out.encode("utf-8")  # no lone surrogates: JSON/Kafka can carry it
    if "&" not in out:
        assert html_to_text(out) == out  # a fixed point once no entity is left


tag_soup = st.lists(
    st.sampled_from(
        [
            "<",
            ">",
            "/",
            "!",
            "?",
            "script",
            "SCRIPT",
            "style",
            "iframe",
            "a",
            " ",
            "=",
            '"',
            "'",
            "onerror",
            "javascript:",
            "&lt;",
            "&gt;",
            "&amp;",
            "&#60;",
            "&#x3c;",
            "<!--",
            "-->",
            "<![CDATA[",
            "]]>",
            "\x00",
            "\n",
            "x",
            "é",
        ]
    ),
    max_size=40,
).map("".join)


@given(tag_soup)
@settings(max_examples=1500, deadline=None)
def test_tag_soup_never_yields_markup(value: str) -> None:
    out = html_to_text(value)
    assert not re.search(r"<[A-Za-z/!?]", out), (value, out)
    assert not re.search(r"<[A-Za-z/!?]", html_to_text(out))


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        ("http://example.com/a", None, "http://example.com/a"),
        (" /rel ", "https://h.org/x/y", "https://h.org/rel"),
        ("item?id=1", "https://h.org/feed/rss", "https://h.org/feed/item?id=1"),
        ("//cdn.example.com/x", "https://b.com/", "https://cdn.example.com/x"),
        ("HTTP://EXAMPLE.com", None, "http://example.com/"),
        ("http://user:pw@example.com:8080/x", None, "http://example.com:8080/x"),
        ("\thttp://exa\nmple.com/a b\x00", None, "http://example.com/a%20b"),
        ("javascript:alert(1)", None, None),
        ("java\nscript:alert(1)", "http://b.com/", None),
        ("data:text/html,<script>x</script>", None, None),
        ("mailto:a@b.c", None, None),
        ("ftp://example.com/f", None, None),
        ("http:///nohost", None, None),
        ("http://example.com:99999/", None, None),
        ("/relative/only", None, None),
        ("", "http://b.com/", None),
        (None, "http://b.com/", None),
        ("http://" + "a" * 9000 + ".com/", None, None),
    ],
)
def test_safe_link(url: str | None, base: str | None, expected: str | None) -> None:
    assert safe_link(url, base) == expected


@given(st.text(), st.one_of(st.none(), st.text()))
@settings(max_examples=400, deadline=None)
def test_safe_link_only_http(url: str, base: str | None) -> None:
    out = safe_link(url, base)
    if out is not None:
        assert out.startswith(("http://", "https://"))
        assert not re.search(r"[\x00-\x20\x7f]", out)
