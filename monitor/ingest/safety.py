"""Make fetched feed bytes safe to hand to feedparser, and guess what they are.

Why this exists: feedparser 6 parses with ``xml.sax`` over expat, after a
regex-based ``replace_doctype`` that only strips a DOCTYPE starting a line
(``^\\s*<!DOCTYPE`` with ``re.MULTILINE``) and *re-inserts* the entity declarations
it judges "safe". A DOCTYPE on the same line as the XML declaration, or one hidden
behind a comment containing ``<x``, reaches expat intact. Expat then expands
internal-subset entities (billion laughs: expat >= 2.4 caps amplification, but the
work up to the cap is still done on every poll), and whether external entities
(``SYSTEM "file:///etc/passwd"``) or external DTDs are fetched depends on the
SAX feature flags of the Python in use. We do not want any of that to depend on
library versions, so :func:`defuse_xml` removes every markup declaration (``<!...>``
other than comments) that appears before the root element — DOCTYPE with its
whole internal subset, stray ``<!ENTITY``/``<!ELEMENT`` — whatever its case or
position. Feeds never need a DTD: the five XML entities and numeric references
keep working, and feedparser resolves HTML named entities itself.

Guarantees of :func:`defuse_xml`:

- the result contains no markup declaration before its root element, so no
  parser can see an entity definition or a DTD reference;
- the document is otherwise unchanged, byte for byte, when it is UTF-8 or another
  ASCII-compatible encoding (the common case: when there is no declaration to
  remove, the very same ``bytes`` object is returned);
- UTF-16/UTF-32 documents (with a BOM, or recognisable from the ``<?`` pattern of
  XML appendix F) are decoded, defused, and returned as UTF-8 with the encoding
  declaration rewritten to ``utf-8``; undecodable ones raise ``ParseError``;
- documents that declare an encoding in which ASCII bytes do not mean ASCII
  characters (UTF-7, EBCDIC code pages, UTF-16/32 without BOM) raise
  ``ParseError``: in UTF-7, ``+ADw-!DOCTYPE`` *decodes to* ``<!DOCTYPE``, so no
  byte-level scan can vouch for them;
- cost is linear in the prologue only (everything before the root element), so a
  1 MB feed without a DOCTYPE costs microseconds.

The caller must not let feedparser decode the bytes with a charset taken from
HTTP headers unless :func:`safe_charset` accepts it (same UTF-7 problem).
"""

from __future__ import annotations

import codecs
import re
from typing import Final, Literal

from ..errors import ParseError

__all__ = ["defuse_xml", "safe_charset", "sniff_kind"]

Kind = Literal["xml", "json", "html", "unknown"]

# Encodings whose bytes < 0x80 are not plain ASCII, matched on the normalised
# codec name (codecs.lookup) or on the declared name's prefix.
_UNSAFE_PREFIXES: Final = (
    "utf-7",
    "utf7",
    "unicode-1-1-utf-7",
    "csunicode11utf7",
    "utf-16",
    "utf16",
    "utf-32",
    "utf32",
    "ucs-2",
    "ucs2",
    "ucs-4",
    "ucs4",
    "iso-10646",
    "csunicode",
    "unicode",
    "ebcdic",
    "cp037",
    "cp273",
    "cp424",
    "cp500",
    "cp875",
    "cp1026",
    "cp1140",
    "ibm037",
    "ibm039",
    "ibm273",
    "ibm424",
    "ibm500",
    "ibm1026",
    "ibm1140",
)

# BOMs, longest first: the UTF-32-LE BOM starts with the UTF-16-LE one.
_BOMS: Final = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# XML 1.0 appendix F: how "<?" or "<" looks without a BOM.
_NO_BOM: Final = (
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00?", "utf-16-be"),
    (b"<\x00?\x00", "utf-16-le"),
)
_EBCDIC_XML: Final = b"\x4c\x6f\xa7\x94"  # "<?xm" in EBCDIC

_ENCODING_ATTR: Final = re.compile(rb"""encoding\s*=\s*(["'])([^"'>]{0,64})\1""", re.IGNORECASE)
_NAME_START: Final = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_:") | frozenset(
    range(0x80, 0x100)
)
_NAME_END: Final = re.compile(rb"[\s/>]")
_WS: Final = b" \t\r\n\x0c"


def safe_charset(name: str | None) -> bool:
    """Whether decoding with charset ``name`` maps ASCII bytes to themselves only.

    ``None`` (no charset) is safe, and so is a name Python does not know: no parser
    here can decode with it, so it falls back to UTF-8/windows-1252 (as feedparser does).
    """
    if name is None:
        return True
    label = name.strip().strip("\"'").lower()
    if not label:
        return True
    try:
        canonical = codecs.lookup(label).name
    except LookupError:
        return True
    return not any(label.startswith(p) or canonical.startswith(p) for p in _UNSAFE_PREFIXES)


def _declaration_end(data: bytes, start: int) -> int:
    """Index just after the ``<!...>`` declaration starting at ``start`` (or len(data)).

    Skips quoted literals, and inside an internal subset ``[...]`` also comments
    and processing instructions, so a ``>`` in ``"a>b"`` or ``<!-- > -->`` does not
    end the DOCTYPE early.
    """
    n = len(data)
    i = start + 2
    depth = 0
    while i < n:
        c = data[i]
        if c == 0x22 or c == 0x27:  # quoted literal
            j = data.find(bytes((c,)), i + 1)
            if j < 0:
                return n
            i = j + 1
            continue
        if c == 0x5B:  # [
            depth += 1
        elif c == 0x5D:  # ]
            depth = max(depth - 1, 0)
        elif c == 0x3C and depth:  # < inside the internal subset
            if data.startswith(b"<!--", i):
                j = data.find(b"-->", i + 4)
                if j < 0:
                    return n
                i = j + 3
                continue
            if data.startswith(b"<?", i):
                j = data.find(b"?>", i + 2)
                if j < 0:
                    return n
                i = j + 2
                continue
        elif c == 0x3E and not depth:  # >
            return i + 1
        i += 1
    return n


def _scan_prologue(data: bytes, pos: int) -> tuple[list[tuple[int, int]], int, bytes | None]:
    """Walk the prologue from ``pos``.

    Returns (spans of declarations to remove, index of the root element's ``<`` or
    -1, the XML declaration's encoding label or None).
    """
    n = len(data)
    removals: list[tuple[int, int]] = []
    encoding: bytes | None = None
    while True:
        lt = data.find(b"<", pos)
        if lt < 0 or lt + 1 >= n:
            return removals, -1, encoding
        nxt = data[lt + 1]
        if nxt == 0x3F:  # <? processing instruction / XML declaration
            end = data.find(b"?>", lt + 2)
            end = n if end < 0 else end + 2
            if encoding is None and data[lt + 2 : lt + 5].lower() == b"xml":
                match = _ENCODING_ATTR.search(data, lt, end)
                if match:
                    encoding = match.group(2)
            pos = end
        elif nxt == 0x21:  # <!
            if data.startswith(b"<!--", lt):
                end = data.find(b"-->", lt + 4)
                if end < 0:
                    return removals, -1, encoding
                pos = end + 3
            elif data[lt + 2 : lt + 9].upper() == b"[CDATA[":
                end = data.find(b"]]>", lt + 9)
                if end < 0:
                    return removals, -1, encoding
                pos = end + 3
            else:
                # DOCTYPE (any case), or a stray <!ENTITY / <!ELEMENT / <![INCLUDE[ ...
                end = _declaration_end(data, lt)
                removals.append((lt, end))
                pos = end
        elif nxt in _NAME_START:
            return removals, lt, encoding
        else:
            pos = lt + 1


def _remove(data: bytes, spans: list[tuple[int, int]]) -> bytes:
    if not spans:
        return data
    out: list[bytes] = []
    last = 0
    for start, end in spans:
        out.append(data[last:start])
        last = end
    out.append(data[last:])
    return b"".join(out)


def _detect_wide(data: bytes) -> tuple[str | None, int]:
    """(codec, BOM length) for UTF-16/32 documents, (None, BOM length) otherwise."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return (None if name == "utf-8" else name), len(bom)
    for head, name in _NO_BOM:
        if data.startswith(head):
            return name, 0
    return None, 0


def defuse_xml(data: bytes) -> bytes:
    """Remove every DOCTYPE and other markup declaration before the root element.

    See the module docstring for the guarantees. Raises ``ParseError`` for
    UTF-16/32 bytes that do not decode, EBCDIC, and declared encodings that are not
    ASCII-compatible.
    """
    wide, bom_len = _detect_wide(data)
    if wide is not None:
        try:
            text = data[bom_len:].decode(wide)
        except UnicodeDecodeError as exc:
            raise ParseError(
                f"document looks like {wide.upper()} but does not decode ({exc.reason} at byte "
                f"{exc.start + bom_len}); it is not parsed"
            ) from None
        utf8 = text.encode("utf-8", "surrogatepass")
        removals, _root, encoding = _scan_prologue(utf8, 0)
        utf8 = _remove(utf8, removals)
        if encoding is not None:
            # The bytes are UTF-8 now; a stale "utf-16" label would make the parser
            # misread them. Only the declaration at the very start is rewritten.
            utf8 = _ENCODING_ATTR.sub(b'encoding="utf-8"', utf8[:256], count=1) + utf8[256:]
        return utf8
    if data.startswith(_EBCDIC_XML):
        raise ParseError("document is EBCDIC-encoded; not supported, it is not parsed")
    removals, _root, encoding = _scan_prologue(data, bom_len)
    if encoding is not None and not safe_charset(encoding.decode("latin-1")):
        raise ParseError(
            f"document declares encoding {encoding.decode('latin-1')[:40]!r}, which is not "
            "ASCII-compatible without a byte-order mark; it is not parsed"
        )
    cleaned = _remove(data, removals)
    if removals and _detect_wide(cleaned) != (None, 0):
        # a byte-order mark AFTER a declaration: no parser reads that as a document, and a
        # second pass would decode it differently from the first
        raise ParseError("byte-order mark found after a markup declaration; the document is not parsed")
    return cleaned


def sniff_kind(data: bytes, content_type: str | None) -> Kind:
    """Guess what a fetched body is from its first bytes, then its Content-Type.

    The bytes win: feeds are routinely served as text/html or text/plain. ``html``
    means the root element is ``<html>`` (or the DOCTYPE says html) — a web page,
    not a feed. The Content-Type only decides when the bytes are inconclusive.
    """
    wide, bom_len = _detect_wide(data[:4])
    head = data[bom_len : bom_len + 4096]
    if wide is not None:
        head = head.decode(wide, "ignore").encode("utf-8")
    stripped = head.lstrip(_WS)
    if stripped[:1] in (b"{", b"["):
        return "json"
    if stripped[:1] == b"<":
        lowered = stripped[:512].lower()
        if lowered.startswith(b"<!doctype html"):
            return "html"
        _removals, root, _enc = _scan_prologue(stripped, 0)
        if root >= 0:
            match = _NAME_END.search(stripped, root + 1, root + 80)
            name = stripped[root + 1 : match.start() if match else root + 80].lower()
            return "html" if name == b"html" else "xml"
        return "xml"
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if "json" in media:
        return "json"
    if media.endswith("xml") or "rss" in media or "atom" in media:
        return "xml"
    if media == "text/html":
        return "html"
    return "unknown"
