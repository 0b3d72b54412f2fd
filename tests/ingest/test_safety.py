"""defuse_xml and sniff_kind: XML attack documents, real ill-formed feeds, encodings."""

from __future__ import annotations

import time
from pathlib import Path

import feedparser
import pytest
from support.hostile import BILLION_LAUGHS, XXE_FILE, HostileServer, rss

from monitor.config import FetchConfig
from monitor.errors import ParseError
from monitor.ingest.fetch import Fetcher, FetchRequest
from monitor.ingest.safety import defuse_xml, safe_charset, sniff_kind

DATA = Path(__file__).resolve().parent.parent / "data" / "feedparser"
PASSWD = Path("/etc/passwd").read_text(errors="replace").splitlines()[0].split(":")[0]  # "root"


def all_text(parsed: feedparser.FeedParserDict) -> str:
    """Every string feedparser produced, flattened (where leaked content would show)."""
    out: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list | tuple):
            for value in node:
                walk(value)

    walk(parsed.get("feed"))
    walk(parsed.get("entries"))
    return "\n".join(out)


def test_billion_laughs_not_expanded() -> None:
    cleaned = defuse_xml(BILLION_LAUGHS)
    assert b"<!DOCTYPE" not in cleaned and b"<!ENTITY" not in cleaned
    start = time.perf_counter()
    parsed = feedparser.parse(cleaned)
    assert time.perf_counter() - start < 1.0
    assert "lollol" not in all_text(parsed)
    assert len(all_text(parsed)) < 10_000


def test_xxe_file_not_read() -> None:
    parsed = feedparser.parse(defuse_xml(XXE_FILE))
    text = all_text(parsed)
    assert "root:" not in text and "/bin/" not in text and f"{PASSWD}:x" not in text


async def test_remote_dtd_never_fetched() -> None:
    async with HostileServer() as server, Fetcher(FetchConfig(), version="t") as fetcher:
        result = await fetcher.fetch(FetchRequest(feed_id="xxe", url=server.url("/xxe-remote")))
        parsed = feedparser.parse(defuse_xml(result.content))
        assert "REMOTE-DTD-WAS-FETCHED" not in all_text(parsed)
        assert server.hits["/xxe-remote"] == 1
        assert server.hits["/evil.dtd"] == 0


@pytest.mark.parametrize(
    "doc",
    [
        # DOCTYPE on the XML declaration's line: feedparser's own replace_doctype misses it.
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "EXPANDED">]><rss><channel><title>&e;</title>'
        b"</channel></rss>",
        # case variants, comment and whitespace before, '>' inside quotes and comments of the subset
        b'  <!-- hi --> <!doctype r [<!ENTITY e "EXP>ANDED"><!-- > -->]>\n<rss><channel><title>&e;</title>'
        b"</channel></rss>",
        b'<!DocType r SYSTEM "http://127.0.0.1:9/x.dtd"><rss><channel><title>t</title></channel></rss>',
        # a stray ENTITY outside any DOCTYPE, and a comment that contains "<x"
        b'<!-- <x --><!ENTITY e "EXPANDED"><!DOCTYPE r [<!ENTITY e "EXPANDED">]><rss><channel>'
        b"<title>&e;</title></channel></rss>",
    ],
)
def test_declaration_variants_removed(doc: bytes) -> None:
    cleaned = defuse_xml(doc)
    assert b"<!doctype" not in cleaned.lower() and b"<!entity" not in cleaned.lower()
    assert b"<rss>" in cleaned
    assert "EXPANDED" not in all_text(feedparser.parse(cleaned))


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"])
def test_wide_encodings_are_decoded_and_defused(codec: str) -> None:
    text = (
        f'<?xml version="1.0" encoding="{codec}"?><!DOCTYPE r [<!ENTITY e "EXPANDED">]>'
        "<rss version='2.0'><channel><title>Caf\u00e9 &e;</title></channel></rss>"
    )
    cleaned = defuse_xml(text.encode(codec))
    assert cleaned.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    assert b"DOCTYPE" not in cleaned
    parsed = feedparser.parse(cleaned)
    assert parsed.feed.title.startswith("Caf\u00e9")
    assert "EXPANDED" not in parsed.feed.title


def test_undecodable_utf16_refused() -> None:
    with pytest.raises(ParseError, match="UTF-16"):
        defuse_xml(b"\xff\xfe<\x00?\x00\x00\xd8")  # BOM then a lone high surrogate


@pytest.mark.parametrize("label", ["utf-7", "UTF7", "cp037", "ebcdic-cp-us", "utf-16"])
def test_ascii_incompatible_declared_encoding_refused(label: str) -> None:
    # In UTF-7, '+ADw-' decodes to '<': a byte scan cannot vouch for such documents.
    doc = f'<?xml version="1.0" encoding="{label}"?>+ADw-!DOCTYPE r+AD4-<rss/>'.encode()
    with pytest.raises(ParseError, match="not ASCII-compatible"):
        defuse_xml(doc)


def test_ebcdic_refused() -> None:
    with pytest.raises(ParseError, match="EBCDIC"):
        defuse_xml("<?xml version='1.0'?><rss/>".encode("cp037"))


def test_safe_charset() -> None:
    assert all(
        safe_charset(x) for x in (None, "", "utf-8", "ISO-8859-1", "windows-1252", "gb2312", "no-such")
    )
    assert not any(safe_charset(x) for x in ("utf-7", "utf-16", "UTF-32LE", "cp500", "ibm037"))


def test_unchanged_when_nothing_to_remove() -> None:
    doc = rss(100)
    assert defuse_xml(doc) is doc
    bom = b"\xef\xbb\xbf" + doc
    assert defuse_xml(bom) is bom


def test_cost_is_prologue_only() -> None:
    doc = rss(1) + b"<!-- pad -->" * 90_000  # ~1 MB after the root element
    runs = 200
    start = time.perf_counter()
    for _ in range(runs):
        defuse_xml(doc)
    per_call = (time.perf_counter() - start) / runs
    assert per_call < 0.001, f"{per_call * 1e6:.0f} us per call"


def test_doctype_after_root_is_left_to_the_parser() -> None:
    doc = b'<rss><!DOCTYPE r [<!ENTITY e "EXPANDED">]><channel><title>&e;</title></channel></rss>'
    assert defuse_xml(doc) == doc  # expat rejects a DOCTYPE there; nothing is expanded
    assert "EXPANDED" not in all_text(feedparser.parse(doc))


def corpus(folder: str) -> list[Path]:
    return sorted((DATA / folder).glob("*.xml"))


@pytest.mark.parametrize("path", corpus("illformed") + corpus("encoding"), ids=lambda p: p.name)
def test_feedparser_corpus_survives_and_keeps_meaning(path: Path) -> None:
    raw = path.read_bytes()
    try:
        cleaned = defuse_xml(raw)
    except ParseError:
        return  # refusing with a clear error is an allowed outcome
    before, after = feedparser.parse(raw), feedparser.parse(cleaned)
    assert after.feed.get("title") == before.feed.get("title")
    assert len(after.entries) == len(before.entries)


@pytest.mark.parametrize(
    ("data", "content_type", "kind"),
    [
        (b'<?xml version="1.0"?><rss/>', "text/html", "xml"),
        (b"\xef\xbb\xbf  <feed xmlns='http://www.w3.org/2005/Atom'/>", None, "xml"),
        ("<?xml version='1.0'?><rss/>".encode("utf-16"), None, "xml"),
        (b'{"version": "https://jsonfeed.org/version/1.1"}', "text/plain", "json"),
        (b"  [1, 2]", None, "json"),
        (b"<!DOCTYPE html><html><body>x</body></html>", "application/rss+xml", "html"),
        (b"<!-- x --><HTML lang=en><p>x", None, "html"),
        (b"\x89PNG\r\n", "image/png", "unknown"),
        (b"garbage", "application/atom+xml", "xml"),
        (b"garbage", "application/feed+json", "json"),
        (b"", None, "unknown"),
    ],
)
def test_sniff_kind(data: bytes, content_type: str | None, kind: str) -> None:
    assert sniff_kind(data, content_type) == kind
