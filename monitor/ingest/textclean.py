"""Feed HTML to plain text, and feed links to safe absolute URLs. Pure and fast.

Item titles and summaries arrive as HTML fragments written by anyone. The monitor
publishes them as *plain text* inside JSON, and some consumer will one day paste
that text into a web page without escaping it. So :func:`html_to_text` guarantees,
for any ``str`` input:

- no tag-like sequence in the output: every ``<`` is followed by something that
  is not a letter, ``/``, ``!`` or ``?`` (a literal ``<`` that would start one —
  e.g. from ``&lt;script&gt;`` or ``x<y`` — gets a space inserted after it:
  ``< script``, ``x< y``); hence no ``<script``, no element with an ``on*=``
  handler, no ``<a href="javascript:...">``;
- ``<script>``, ``<style>``, ``<iframe>``, ``<object>``, ``<embed>``, ``<noscript>``,
  ``<template>``, ``<svg>``, ``<math>``, ``<textarea>``, ``<head>`` elements, comments
  and CDATA sections are dropped *with their content*; other tags are removed and
  their text kept; ``<br>`` and the end of block elements (``</p>``, ``</div>``,
  ``</li>``, headings, rows, ...) become line breaks;
- entities (named and numeric) are decoded exactly once: ``&amp;lt;`` becomes the
  text ``&lt;``. Markup that appears only after decoding (double-escaped HTML, which
  feeds produce often) is stripped by a second pass, without decoding again;
- no control characters except ``\\n`` (``\\r``, tabs and Unicode spaces fold into
  spaces or line breaks), no lone surrogates (they would break UTF-8 JSON), runs of
  spaces collapsed, at most one blank line in a row, no leading/trailing space;
- at most ``max_chars`` characters; the input is cut at ``20 * max_chars`` before
  any work, so the cost is bounded whatever arrives.

Regexes, not an HTML parser: ~10x faster (the target is > 50,000 summaries/s) and,
combined with the final neutralisation of ``<``, safe against malformed input even
where it does not reproduce a browser's parse exactly.
"""

from __future__ import annotations

import re
from html import unescape
from typing import Final
from urllib.parse import urljoin, urlsplit, urlunsplit

__all__ = ["html_to_text", "safe_link"]

_DROP: Final = re.compile(
    r"<!--.*?(?:--!?>|\Z)"
    r"|<!\[CDATA\[.*?(?:\]\]>|\Z)"
    r"|<(script|style|iframe|object|embed|noscript|template|svg|math|textarea|xmp|noembed|noframes|head)\b"
    r".*?(?:</\1\s*>|\Z)",
    re.IGNORECASE | re.DOTALL,
)
_BREAK: Final = re.compile(
    r"<br\b[^>]*>|</(?:p|div|li|tr|h[1-6]|blockquote|pre|table|ul|ol|dd|dt|section|article)\s*>",
    re.IGNORECASE,
)
# A tag: '<' + letter, '/', '!' or '?', up to '>' outside quotes. In the raw HTML an
# unclosed tag runs to the end (as in a browser); after decoding, only closed tags
# are tags, and a bare '<' is text (neutralised below).
# Possessive quantifiers (3.11+): no backtracking, linear time on any input.
_TAG_RAW: Final = re.compile(
    r"""<[A-Za-z/!?](?:[^>"']++|"[^"]*+"|'[^']*+')*+(?:>|\Z)|<[A-Za-z/!?][^>]*+(?:>|\Z)"""
)
_TAG_CLOSED: Final = re.compile(r"""<[A-Za-z/!?](?:[^<>"']++|"[^"<]*+"|'[^'<]*+')*+>""")
_TAG_START: Final = re.compile(r"<(?=[A-Za-z/!?])")
# C0/C1 controls except \t \n \r, lone surrogates, BOM and non-characters.
_CONTROL: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufeff\ufffe\uffff]")


def _finish(text: str, max_chars: int) -> str:
    # str.splitlines()/str.split() know every Unicode line break and space (\r\n,
    # \u2028, \xa0, \u3000, ...) and run in C: 3-5x faster than a regex here.
    out: list[str] = []
    blank = True  # also drops leading blank lines
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            out.append(line)
            blank = False
        elif not blank:
            out.append("")
            blank = True
    if blank and out:
        out.pop()
    text = "\n".join(out)
    if len(text) > max_chars:
        text = text[:max_chars].rstrip()
    return text


def html_to_text(value: str, *, max_chars: int = 200_000) -> str:
    """Plain text from an HTML fragment; see the module docstring for the guarantees."""
    if not value:
        return ""
    # Controls go first: '<\x00script>' must not become '<script>' once they are gone.
    # html.unescape() never produces controls (it maps &#1; to '' and &#0; to U+FFFD),
    # so one pass is enough.
    text = _CONTROL.sub("", value[: max_chars * 20])
    if "<" in text:
        text = _DROP.sub("", text)
        text = _BREAK.sub("\n", text)
        text = _TAG_RAW.sub("", text)
    if "&" in text:
        text = unescape(text)
        if "<" in text:
            text = _DROP.sub("", text)
            text = _BREAK.sub("\n", text)
            text = _TAG_CLOSED.sub("", text)
    if "<" in text:
        text = _TAG_START.sub("< ", text)
    return _finish(text, max_chars)


# WHATWG URL parsing removes ASCII tab and newline anywhere and C0 controls/space at
# the ends; we go further and drop every control character.
_URL_JUNK: Final = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")
_MAX_URL: Final = 8192


def safe_link(url: str | None, base: str | None = None) -> str | None:
    """An absolute http(s) URL with a host, or ``None``.

    ``url`` is resolved against ``base`` (the feed's or entry's URL) when relative.
    Controls and surrounding whitespace are removed, inner spaces percent-encoded,
    credentials (``user:pass@``) dropped — they only serve phishing in a news link —
    and anything else (``javascript:``, ``data:``, ``mailto:``, no host, a bad port,
    longer than 8 KiB) gives ``None``.
    """
    if not url:
        return None
    cleaned = _URL_JUNK.sub("", url).strip().replace(" ", "%20")
    if not cleaned or len(cleaned) > _MAX_URL:
        return None
    # an absolute http(s) URL needs no joining (urljoin is the costliest step here)
    if base and not cleaned[:8].lower().startswith(("http://", "https://")):
        base_clean = _URL_JUNK.sub("", base).strip()
        try:
            cleaned = urljoin(base_clean, cleaned)
        except ValueError:
            return None
    try:
        parts = urlsplit(cleaned)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in ("http", "https") or not host or len(cleaned) > _MAX_URL:
        return None
    if "\\" in parts.netloc or any(c in host for c in " <>\"'`{}|^"):
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, parts.fragment))
